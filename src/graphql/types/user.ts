import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';

// Every field names its type explicitly: `npm start` runs through a compiler that does not
// emit decorator metadata, so nothing may depend on it.
// Everything but the id is visible to the user themself or an admin only: guardUserFields
// (user-visibility.ts) wraps those fields in the built schema. `simple`: graphql's own resolver,
// no type-graphql wrapper.
@ObjectType()
export class User {
  @Field(() => ID, { simple: true })
  id!: string;

  @Field(() => String, { simple: true })
  email!: string;

  @Field(() => [String], { simple: true })
  roles!: string[];

  @Field(() => Boolean, { simple: true })
  mfaEnabled!: boolean;

  @Field(() => GraphQLDateTimeISO, { simple: true })
  createdAt!: Date;
}
