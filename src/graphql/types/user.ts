import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';

// Every field names its type explicitly: `npm start` runs through a compiler that does not
// emit decorator metadata, so nothing may depend on it.
// Plain fields, no middleware: graphql's default resolver reads them (as fast as it gets for
// `me`, the query every client sends).
@ObjectType({ simpleResolvers: true })
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
