import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';

// Every field names its type explicitly: `npm start` runs through a compiler that does not
// emit decorator metadata, so nothing may depend on it.
@ObjectType()
export class User {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  email!: string;

  @Field(() => [String])
  roles!: string[];

  @Field(() => Boolean)
  mfaEnabled!: boolean;

  @Field(() => GraphQLDateTimeISO)
  createdAt!: Date;
}
