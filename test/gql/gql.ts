/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation Register($email: String!, $password: String!) {\n  register(email: $email, password: $password)\n}\n\nmutation Login($email: String!, $password: String!) {\n  login(email: $email, password: $password) {\n    __typename\n    ... on AuthPayload {\n      accessToken\n      tokenType\n      expiresIn\n      refreshToken\n      refreshTokenExpiresAt\n      user {\n        id\n        email\n        roles\n        mfaEnabled\n        createdAt\n      }\n    }\n    ... on MfaChallenge {\n      mfaToken\n      expiresAt\n      methods\n    }\n  }\n}\n\nmutation Refresh($refreshToken: String) {\n  refresh(refreshToken: $refreshToken) {\n    accessToken\n    tokenType\n    expiresIn\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      email\n      roles\n    }\n  }\n}\n\nmutation Logout($refreshToken: String) {\n  logout(refreshToken: $refreshToken)\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}": typeof types.RegisterDocument,
    "query SchemaRoot {\n  __schema {\n    queryType {\n      name\n    }\n  }\n}\n\nquery TypeByName($name: String!) {\n  __type(name: $name) {\n    name\n  }\n}": typeof types.SchemaRootDocument,
    "mutation EnrollMfa($password: String!) {\n  enrollMfa(password: $password) {\n    secret\n    otpauthUri\n    qrCodeSvg\n  }\n}\n\nmutation ConfirmMfa($code: String!) {\n  confirmMfa(code: $code)\n}\n\nmutation VerifyMfa($mfaToken: String!, $code: String!) {\n  verifyMfa(mfaToken: $mfaToken, code: $code) {\n    accessToken\n    refreshToken\n    user {\n      id\n      mfaEnabled\n    }\n  }\n}\n\nmutation DisableMfa($code: String!) {\n  disableMfa(code: $code)\n}\n\nmutation RegenerateRecoveryCodes($code: String!) {\n  regenerateRecoveryCodes(code: $code)\n}\n\nmutation TwoVerifyMfa($mfaToken: String!, $a: String!, $b: String!) {\n  first: verifyMfa(mfaToken: $mfaToken, code: $a) {\n    accessToken\n  }\n  second: verifyMfa(mfaToken: $mfaToken, code: $b) {\n    accessToken\n  }\n}": typeof types.EnrollMfaDocument,
    "mutation LoginAndLogout($email: String!, $password: String!, $refreshToken: String) {\n  login(email: $email, password: $password) {\n    __typename\n  }\n  logout(refreshToken: $refreshToken)\n}": typeof types.LoginAndLogoutDocument,
    "query Sessions {\n  sessions {\n    id\n    createdAt\n    lastUsedAt\n    expiresAt\n    userAgent\n    ip\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}": typeof types.SessionsDocument,
    "query Me {\n  me {\n    id\n    email\n    roles\n    mfaEnabled\n    createdAt\n  }\n}\n\nquery Users($limit: Int, $offset: Int) {\n  users(limit: $limit, offset: $offset) {\n    id\n    email\n    roles\n  }\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [String!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    id\n    roles\n  }\n}\n\nquery MeIdRoles {\n  me {\n    id\n    roles\n  }\n}\n\nquery MeEmail {\n  me {\n    id\n    email\n  }\n}": typeof types.MeDocument,
};
const documents: Documents = {
    "mutation Register($email: String!, $password: String!) {\n  register(email: $email, password: $password)\n}\n\nmutation Login($email: String!, $password: String!) {\n  login(email: $email, password: $password) {\n    __typename\n    ... on AuthPayload {\n      accessToken\n      tokenType\n      expiresIn\n      refreshToken\n      refreshTokenExpiresAt\n      user {\n        id\n        email\n        roles\n        mfaEnabled\n        createdAt\n      }\n    }\n    ... on MfaChallenge {\n      mfaToken\n      expiresAt\n      methods\n    }\n  }\n}\n\nmutation Refresh($refreshToken: String) {\n  refresh(refreshToken: $refreshToken) {\n    accessToken\n    tokenType\n    expiresIn\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      email\n      roles\n    }\n  }\n}\n\nmutation Logout($refreshToken: String) {\n  logout(refreshToken: $refreshToken)\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}": types.RegisterDocument,
    "query SchemaRoot {\n  __schema {\n    queryType {\n      name\n    }\n  }\n}\n\nquery TypeByName($name: String!) {\n  __type(name: $name) {\n    name\n  }\n}": types.SchemaRootDocument,
    "mutation EnrollMfa($password: String!) {\n  enrollMfa(password: $password) {\n    secret\n    otpauthUri\n    qrCodeSvg\n  }\n}\n\nmutation ConfirmMfa($code: String!) {\n  confirmMfa(code: $code)\n}\n\nmutation VerifyMfa($mfaToken: String!, $code: String!) {\n  verifyMfa(mfaToken: $mfaToken, code: $code) {\n    accessToken\n    refreshToken\n    user {\n      id\n      mfaEnabled\n    }\n  }\n}\n\nmutation DisableMfa($code: String!) {\n  disableMfa(code: $code)\n}\n\nmutation RegenerateRecoveryCodes($code: String!) {\n  regenerateRecoveryCodes(code: $code)\n}\n\nmutation TwoVerifyMfa($mfaToken: String!, $a: String!, $b: String!) {\n  first: verifyMfa(mfaToken: $mfaToken, code: $a) {\n    accessToken\n  }\n  second: verifyMfa(mfaToken: $mfaToken, code: $b) {\n    accessToken\n  }\n}": types.EnrollMfaDocument,
    "mutation LoginAndLogout($email: String!, $password: String!, $refreshToken: String) {\n  login(email: $email, password: $password) {\n    __typename\n  }\n  logout(refreshToken: $refreshToken)\n}": types.LoginAndLogoutDocument,
    "query Sessions {\n  sessions {\n    id\n    createdAt\n    lastUsedAt\n    expiresAt\n    userAgent\n    ip\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}": types.SessionsDocument,
    "query Me {\n  me {\n    id\n    email\n    roles\n    mfaEnabled\n    createdAt\n  }\n}\n\nquery Users($limit: Int, $offset: Int) {\n  users(limit: $limit, offset: $offset) {\n    id\n    email\n    roles\n  }\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [String!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    id\n    roles\n  }\n}\n\nquery MeIdRoles {\n  me {\n    id\n    roles\n  }\n}\n\nquery MeEmail {\n  me {\n    id\n    email\n  }\n}": types.MeDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Register($email: String!, $password: String!) {\n  register(email: $email, password: $password)\n}\n\nmutation Login($email: String!, $password: String!) {\n  login(email: $email, password: $password) {\n    __typename\n    ... on AuthPayload {\n      accessToken\n      tokenType\n      expiresIn\n      refreshToken\n      refreshTokenExpiresAt\n      user {\n        id\n        email\n        roles\n        mfaEnabled\n        createdAt\n      }\n    }\n    ... on MfaChallenge {\n      mfaToken\n      expiresAt\n      methods\n    }\n  }\n}\n\nmutation Refresh($refreshToken: String) {\n  refresh(refreshToken: $refreshToken) {\n    accessToken\n    tokenType\n    expiresIn\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      email\n      roles\n    }\n  }\n}\n\nmutation Logout($refreshToken: String) {\n  logout(refreshToken: $refreshToken)\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}"): (typeof documents)["mutation Register($email: String!, $password: String!) {\n  register(email: $email, password: $password)\n}\n\nmutation Login($email: String!, $password: String!) {\n  login(email: $email, password: $password) {\n    __typename\n    ... on AuthPayload {\n      accessToken\n      tokenType\n      expiresIn\n      refreshToken\n      refreshTokenExpiresAt\n      user {\n        id\n        email\n        roles\n        mfaEnabled\n        createdAt\n      }\n    }\n    ... on MfaChallenge {\n      mfaToken\n      expiresAt\n      methods\n    }\n  }\n}\n\nmutation Refresh($refreshToken: String) {\n  refresh(refreshToken: $refreshToken) {\n    accessToken\n    tokenType\n    expiresIn\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      email\n      roles\n    }\n  }\n}\n\nmutation Logout($refreshToken: String) {\n  logout(refreshToken: $refreshToken)\n}\n\nmutation LogoutAll {\n  logoutAll\n}\n\nmutation ChangePassword($currentPassword: String!, $newPassword: String!) {\n  changePassword(currentPassword: $currentPassword, newPassword: $newPassword)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query SchemaRoot {\n  __schema {\n    queryType {\n      name\n    }\n  }\n}\n\nquery TypeByName($name: String!) {\n  __type(name: $name) {\n    name\n  }\n}"): (typeof documents)["query SchemaRoot {\n  __schema {\n    queryType {\n      name\n    }\n  }\n}\n\nquery TypeByName($name: String!) {\n  __type(name: $name) {\n    name\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation EnrollMfa($password: String!) {\n  enrollMfa(password: $password) {\n    secret\n    otpauthUri\n    qrCodeSvg\n  }\n}\n\nmutation ConfirmMfa($code: String!) {\n  confirmMfa(code: $code)\n}\n\nmutation VerifyMfa($mfaToken: String!, $code: String!) {\n  verifyMfa(mfaToken: $mfaToken, code: $code) {\n    accessToken\n    refreshToken\n    user {\n      id\n      mfaEnabled\n    }\n  }\n}\n\nmutation DisableMfa($code: String!) {\n  disableMfa(code: $code)\n}\n\nmutation RegenerateRecoveryCodes($code: String!) {\n  regenerateRecoveryCodes(code: $code)\n}\n\nmutation TwoVerifyMfa($mfaToken: String!, $a: String!, $b: String!) {\n  first: verifyMfa(mfaToken: $mfaToken, code: $a) {\n    accessToken\n  }\n  second: verifyMfa(mfaToken: $mfaToken, code: $b) {\n    accessToken\n  }\n}"): (typeof documents)["mutation EnrollMfa($password: String!) {\n  enrollMfa(password: $password) {\n    secret\n    otpauthUri\n    qrCodeSvg\n  }\n}\n\nmutation ConfirmMfa($code: String!) {\n  confirmMfa(code: $code)\n}\n\nmutation VerifyMfa($mfaToken: String!, $code: String!) {\n  verifyMfa(mfaToken: $mfaToken, code: $code) {\n    accessToken\n    refreshToken\n    user {\n      id\n      mfaEnabled\n    }\n  }\n}\n\nmutation DisableMfa($code: String!) {\n  disableMfa(code: $code)\n}\n\nmutation RegenerateRecoveryCodes($code: String!) {\n  regenerateRecoveryCodes(code: $code)\n}\n\nmutation TwoVerifyMfa($mfaToken: String!, $a: String!, $b: String!) {\n  first: verifyMfa(mfaToken: $mfaToken, code: $a) {\n    accessToken\n  }\n  second: verifyMfa(mfaToken: $mfaToken, code: $b) {\n    accessToken\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation LoginAndLogout($email: String!, $password: String!, $refreshToken: String) {\n  login(email: $email, password: $password) {\n    __typename\n  }\n  logout(refreshToken: $refreshToken)\n}"): (typeof documents)["mutation LoginAndLogout($email: String!, $password: String!, $refreshToken: String) {\n  login(email: $email, password: $password) {\n    __typename\n  }\n  logout(refreshToken: $refreshToken)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Sessions {\n  sessions {\n    id\n    createdAt\n    lastUsedAt\n    expiresAt\n    userAgent\n    ip\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}"): (typeof documents)["query Sessions {\n  sessions {\n    id\n    createdAt\n    lastUsedAt\n    expiresAt\n    userAgent\n    ip\n    current\n  }\n}\n\nmutation RevokeSession($id: ID!) {\n  revokeSession(id: $id)\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Me {\n  me {\n    id\n    email\n    roles\n    mfaEnabled\n    createdAt\n  }\n}\n\nquery Users($limit: Int, $offset: Int) {\n  users(limit: $limit, offset: $offset) {\n    id\n    email\n    roles\n  }\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [String!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    id\n    roles\n  }\n}\n\nquery MeIdRoles {\n  me {\n    id\n    roles\n  }\n}\n\nquery MeEmail {\n  me {\n    id\n    email\n  }\n}"): (typeof documents)["query Me {\n  me {\n    id\n    email\n    roles\n    mfaEnabled\n    createdAt\n  }\n}\n\nquery Users($limit: Int, $offset: Int) {\n  users(limit: $limit, offset: $offset) {\n    id\n    email\n    roles\n  }\n}\n\nmutation SetUserRoles($userId: ID!, $roles: [String!]!) {\n  setUserRoles(userId: $userId, roles: $roles) {\n    id\n    roles\n  }\n}\n\nquery MeIdRoles {\n  me {\n    id\n    roles\n  }\n}\n\nquery MeEmail {\n  me {\n    id\n    email\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;