import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'What a new password (register, changePassword) must be under this gateway\'s PASSWORD_POLICY, for a client to show before it submits; WEAK_PASSWORD lists what a password misses.',
})
export class PasswordPolicy {
  @Field(() => Int, { description: 'Characters at least: Unicode code points of the NFKC form (an emoji is one).' })
  minLength!: number;

  @Field(() => Int, { description: 'Characters at most, counted as minLength is.' })
  maxLength!: number;

  @Field(() => Boolean, { description: 'At least one upper-case letter (any script).' })
  requiresUppercase!: boolean;

  @Field(() => Boolean, { description: 'At least one lower-case letter (any script).' })
  requiresLowercase!: boolean;

  @Field(() => Boolean, { description: 'At least one decimal digit.' })
  requiresDigit!: boolean;

  @Field(() => Boolean, { description: 'At least one character that is neither a letter nor a digit.' })
  requiresSymbol!: boolean;

  @Field(() => Boolean, { description: 'Passwords on a list of common ones are refused, whatever their case.' })
  refusesCommonPasswords!: boolean;
}
