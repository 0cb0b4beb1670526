import { createUnionType } from 'type-graphql';
import { AuthPayload } from './auth-payload';
import { MfaChallenge } from './mfa-challenge';

export const LoginResult = createUnionType({
  name: 'LoginResult',
  types: () => [AuthPayload, MfaChallenge] as const,
  resolveType: (value) => ('mfaToken' in value ? MfaChallenge : AuthPayload),
});
