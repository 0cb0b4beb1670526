/**
 * The one place that turns errors into what a client sees. Expected failures carry their code
 * from the registry; Apollo's request-level codes pass through; a store that cannot be reached
 * is SERVICE_UNAVAILABLE; anything else is INTERNAL_SERVER_ERROR with a fixed message. Both are
 * logged on the server by name and driver code (describeError: never a message, which may hold
 * SQL parameters), with the stack frames in development.
 */
import { GraphQLError, Kind, print, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { describeError } from '../describe-error';
import { ErrorCode, GatewayError, isUnavailable, ServiceUnavailableError, toWire } from '../errors';

/** Told the code of every error a client is answered with (the metrics). */
export interface ErrorCounter {
  countError(code: ErrorCode): void;
}

const PASSED_THROUGH = new Set<string>([
  ErrorCode.GRAPHQL_PARSE_FAILED,
  ErrorCode.GRAPHQL_VALIDATION_FAILED,
  ErrorCode.BAD_USER_INPUT,
  ErrorCode.BAD_REQUEST,
]);

const isPassedThrough = (code: unknown): code is ErrorCode => typeof code === 'string' && PASSED_THROUGH.has(code);

// graphql-js's wording ("more that N tokens") has a typo that may be fixed one day.
const TOKEN_LIMIT = /Document contains more tha[nt] (\d+) tokens/;

// graphql-js quotes the value it could not coerce, twice: a secret sent in the wrong shape
// (`{ "password": { "pw": "…" } }`) would come back in the message.
const INVALID_VARIABLE = /^Variable "\$(\w+)" (?:got|has) invalid value /; // graphql 16: got, 17: has

/** The message of a variable that could not be coerced, naming its declared type, not its value. */
function invalidVariableMessage(name: string, error: unknown) {
  const node = error instanceof GraphQLError ? error.nodes?.[0] : undefined;
  const type = node?.kind === Kind.VARIABLE_DEFINITION ? ` of type ${print(node.type)}` : '';
  return `Variable "$${name}"${type} got an invalid value.`;
}

// graphql-js quotes a literal it could not take as well (`login(password: ["…"])`), a secret
// written into the document in the wrong shape: the message keeps the type, not the value.
// An enum's alike: a string where it wants a value name, or a name it does not have.
const LITERAL_REFUSED = /^(?:Expected value of type "([^"]+)", found |(\w+) cannot represent |Enum "(\w+)" cannot represent |Value ".*" does not exist in "(\w+)" enum\.)/s;
const VALUE_KINDS = new Set<string>([Kind.STRING, Kind.INT, Kind.FLOAT, Kind.BOOLEAN, Kind.NULL, Kind.ENUM, Kind.LIST, Kind.OBJECT]);

/** The message of a literal that does not fit its type, naming the type, not the value; else none. */
function refusedLiteralMessage(message: string, error: unknown) {
  const node = error instanceof GraphQLError ? error.nodes?.[0] : undefined;
  const refused = node && VALUE_KINDS.has(node.kind) ? LITERAL_REFUSED.exec(message) : null;
  if (!refused) return undefined;
  if (refused[1]) return `Expected value of type "${refused[1]}"; the value given does not fit.`;
  return refused[2] ? `${refused[2]} cannot represent the value given.` : `Enum "${refused[3] ?? refused[4]}" cannot represent the value given.`;
}

// A parse error names the token it did not expect, with its value (`Expected Name, found String
// "…"`): the kind of token is enough.
const TOKEN_VALUE = /\b(String|BlockString|Int|Float|Name) ".*"(\.?)$/s;
// The lexer quotes what it cannot read: the characters of an escape (`"\users"`), part of a
// string, or a character where a value was due (`password: %Secret`, `9Lives`: `"%"`, `"L"`).
const CHARACTERS_QUOTED = /^(Syntax Error: [^:]+?)(?: but got)?: (?:".*"|U\+[0-9A-F]{4,6})\.$/s;

// A variable the document uses but does not declare, or uses where only a constant may stand
// (a default value): a password written unquoted after a `$` (`password: $Tr0ub4dor`) is one.
// The location points at it; the name is not repeated.
const UNDEFINED_VARIABLE = /^Variable "\$\w+" is not defined(?: by operation "\w+")?\.$/;
const VARIABLE_IN_CONSTANT = /^(Syntax Error: Unexpected variable) "\$\w+"( in constant value\.)$/;

// Apollo's refusal names a constructor option, which no setting here reaches.
const INTROSPECTION_REFUSED = /^GraphQL introspection is not allowed by Apollo Server/;
/** The committed file that holds a listener's schema. */
export type SchemaFile = 'schema.graphql' | 'schema.subgraph.graphql';

/** What a client is told instead: where the listener's schema is written down. */
const introspectionOff = (schemaFile: SchemaFile) =>
  `GraphQL introspection is off in production (NODE_ENV=production): the schema is this version's ${schemaFile}.`;

// graphql-js stops coercing variables after 50 errors (a list variable of many wrong elements)
// with one more error of no code: the client's mistake, not an internal error to log.
const VARIABLE_ERROR_LIMIT = /^Too many errors processing variables, error limit reached\. Execution aborted\.$/;

// Apollo's other request-level refusals; to the client they are all a bad request.
const REQUEST_LEVEL = new Set(['OPERATION_RESOLUTION_FAILURE', 'PERSISTED_QUERY_NOT_SUPPORTED', 'PERSISTED_QUERY_NOT_FOUND']);

/**
 * The request id of each error met while a request ran (plugins/errors.ts notes it, before
 * Apollo formats the errors), so that the lines logged about it carry the id its access line
 * carries. An error from before a request's context exists has none.
 */
export const errorRequestIds = new WeakMap<object, string>();

export function createErrorFormatter(
  logger: Logger,
  options: { development: boolean; counter?: ErrorCounter | undefined; schemaFile: SchemaFile },
) {
  const { counter } = options;
  const introspectionRefusal = introspectionOff(options.schemaFile);
  if (!counter) return format;
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const answered = format(formatted, error);
    counter.countError(answered.extensions.code);
    return answered;
  };

  /** Every answer carries a code of the registry. */
  function format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError & { extensions: { code: ErrorCode } } {
    const where = { ...(formatted.locations && { locations: formatted.locations }), ...(formatted.path && { path: formatted.path }) };
    // In the spec's order: message, locations, path, extensions.
    const answer = ({ message, extensions }: ReturnType<typeof toWire>) => ({ message, ...where, extensions });
    const original = unwrapResolverError(error);
    if (original instanceof GatewayError) return answer(toWire(original));
    const reqId = typeof error === 'object' && error !== null ? errorRequestIds.get(error) : undefined;
    if (isUnavailable(original)) {
      logger.warn({ reqId, err: describeError(original, { stack: options.development }) }, 'store unavailable');
      return answer(toWire(new ServiceUnavailableError()));
    }
    const code = formatted.extensions?.code;
    const tokenLimit = code === ErrorCode.GRAPHQL_PARSE_FAILED && TOKEN_LIMIT.exec(formatted.message);
    if (tokenLimit) {
      // A request limit, like depth and aliases: reported as they are (the parser stops counting there).
      return { message: `Token limit of ${tokenLimit[1]} exceeded.`, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } };
    }
    if (code === ErrorCode.GRAPHQL_PARSE_FAILED) {
      return { message: formatted.message.replace(TOKEN_VALUE, '$1$2').replace(CHARACTERS_QUOTED, '$1.').replace(VARIABLE_IN_CONSTANT, '$1$2'), ...where, extensions: { code } };
    }
    if (isPassedThrough(code)) {
      const invalidVariable = code === ErrorCode.BAD_USER_INPUT && INVALID_VARIABLE.exec(formatted.message);
      const refusedLiteral = code === ErrorCode.GRAPHQL_VALIDATION_FAILED && refusedLiteralMessage(formatted.message, error);
      const undefinedVariable = code === ErrorCode.GRAPHQL_VALIDATION_FAILED && UNDEFINED_VARIABLE.test(formatted.message);
      const message = invalidVariable
        ? invalidVariableMessage(invalidVariable[1]!, error)
        : undefinedVariable
          ? 'A variable used here is not defined by the operation.'
          : refusedLiteral || (INTROSPECTION_REFUSED.test(formatted.message) ? introspectionRefusal : formatted.message);
      return { message, ...where, extensions: { code } };
    }
    if (VARIABLE_ERROR_LIMIT.test(formatted.message) && original instanceof GraphQLError && !original.originalError) {
      return { message: formatted.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
    }
    if (typeof code === 'string' && REQUEST_LEVEL.has(code)) {
      return { message: formatted.message, ...where, extensions: { code: ErrorCode.BAD_REQUEST } };
    }
    logger.error({ reqId, err: describeError(original, { stack: options.development }), path: formatted.path }, 'unexpected error');
    return { message: 'Internal server error.', ...where, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  }
}
