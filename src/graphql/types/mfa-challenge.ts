import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ObjectType, registerEnumType } from 'type-graphql';

export enum MfaMethod {
  TOTP = 'TOTP',
  RECOVERY_CODE = 'RECOVERY_CODE',
}
registerEnumType(MfaMethod, { name: 'MfaMethod' });

@ObjectType({ description: 'Returned by login when the account has MFA enabled; no session exists yet.' })
export class MfaChallenge {
  @Field(() => String)
  mfaToken!: string;

  @Field(() => GraphQLDateTimeISO)
  expiresAt!: Date;

  @Field(() => [MfaMethod])
  methods!: MfaMethod[];
}
