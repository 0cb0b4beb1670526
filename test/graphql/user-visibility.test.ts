// Rule: a User's fields but `id` are visible to that user, to an admin, and to the request that has just signed that very user in (its payload), never because the request signed someone else in.
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, GraphQLObjectType, type GraphQLResolveInfo } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ForbiddenError, UnauthenticatedError } from '../../src/errors';
import type { GatewayContext } from '../../src/graphql/context';
import { gatewaySchema } from '../../src/graphql/schema';

// Over HTTP this boundary is out of reach: an operation holds one credential mutation, and the
// only other User a non-admin's mutation could return (setUserRoles) is refused before it resolves.
// So the guard is called here as graphql-js calls it, with the context a request would have.
const userFields = (gatewaySchema().getType('User') as GraphQLObjectType).getFields();
const USER = { id: 'u2', email: 'b@example.test' };

const context = (viewer: { userId: string; roles: string[] } | null, issuedTo: string[]) =>
  ({ viewer: viewer && { ...viewer, sessionId: 's1', amr: ['pwd'] }, issuedTo: new Set(issuedTo) }) as unknown as GatewayContext;

/** The User's `field` (its email unless said) as `ctx` sees it, or the error the guard answers. */
function read(ctx: GatewayContext, field = 'email'): unknown {
  try {
    return userFields[field]!.resolve!(USER, {}, ctx, { fieldName: field } as GraphQLResolveInfo);
  } catch (error) {
    return error instanceof GraphQLError ? unwrapResolverError(error) : error;
  }
}

describe("a User's email", () => {
  it('is shown to the request that has just signed that user in, to the user and to an admin', () => {
    expect(read(context(null, ['u2']))).toBe(USER.email);
    expect(read(context({ userId: 'u1', roles: ['user'] }, ['u2']))).toBe(USER.email);
    expect(read(context({ userId: 'u2', roles: ['user'] }, []))).toBe(USER.email);
    expect(read(context({ userId: 'u1', roles: ['user', 'admin'] }, []))).toBe(USER.email);
  });

  it('is refused to a request that has signed in another user: UNAUTHENTICATED without a viewer, FORBIDDEN with one', () => {
    expect(read(context(null, ['u1']))).toBeInstanceOf(UnauthenticatedError);
    expect(read(context({ userId: 'u1', roles: ['user'] }, ['u1']))).toBeInstanceOf(ForbiddenError);
    expect(read(context({ userId: 'u1', roles: ['user'] }, ['u3']))).toBeInstanceOf(ForbiddenError);
    expect(read(context(null, []))).toBeInstanceOf(UnauthenticatedError);
  });
});

describe("a User's other fields but id", () => {
  it('are guarded alike: refused to another user, shown to the user', () => {
    const fields = Object.keys(userFields).filter((name) => name !== 'id');
    expect(fields.length).toBeGreaterThan(1);
    for (const name of fields) {
      expect(read(context({ userId: 'u1', roles: ['user'] }, []), name), name).toBeInstanceOf(ForbiddenError);
      expect(read(context(null, []), name), name).toBeInstanceOf(UnauthenticatedError);
      expect(read(context({ userId: 'u2', roles: ['user'] }, []), name), name).not.toBeInstanceOf(Error);
    }
  });
});
