import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ID, ObjectType, UseMiddleware } from 'type-graphql';
import { SelfOrAdmin } from '../user-visibility';

// Every field names its type explicitly: `npm start` runs through a compiler that does not
// emit decorator metadata, so nothing may depend on it.
// Everything but the id is guarded by SelfOrAdmin, so only `id` takes graphql's default resolver
// (no middleware).
@ObjectType()
export class User {
  @Field(() => ID, { simple: true })
  id!: string;

  @Field(() => String)
  @UseMiddleware(SelfOrAdmin)
  email!: string;

  @Field(() => [String])
  @UseMiddleware(SelfOrAdmin)
  roles!: string[];

  @Field(() => Boolean)
  @UseMiddleware(SelfOrAdmin)
  mfaEnabled!: boolean;

  @Field(() => GraphQLDateTimeISO)
  @UseMiddleware(SelfOrAdmin)
  createdAt!: Date;
}
