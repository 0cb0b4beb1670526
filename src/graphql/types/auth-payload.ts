import { GraphQLDateTimeISO } from 'graphql-scalars';
import { Field, Int, ObjectType } from 'type-graphql';
import { User } from './user';

@ObjectType()
export class AuthPayload {
  @Field(() => String)
  accessToken!: string;

  @Field(() => String, { description: 'Always "Bearer".' })
  tokenType!: string;

  @Field(() => Int, { description: 'Seconds until the access token expires.' })
  expiresIn!: number;

  @Field(() => String, {
    nullable: true,
    description: 'Null when the refresh token travels only in the HttpOnly cookie.',
  })
  refreshToken!: string | null;

  @Field(() => GraphQLDateTimeISO)
  refreshTokenExpiresAt!: Date;

  @Field(() => User)
  user!: User;
}
