import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType()
export class Session {
  @Field(() => ID)
  id!: string;

  @Field(() => GraphQLDateTimeISO)
  createdAt!: Date;

  @Field(() => GraphQLDateTimeISO)
  lastUsedAt!: Date;

  @Field(() => GraphQLDateTimeISO)
  expiresAt!: Date;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field(() => Boolean, { description: 'True for the session of the access token making this request.' })
  current!: boolean;
}
