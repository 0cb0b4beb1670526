/**
 * The verifier kit for subgraphs: checks the gateway's access tokens locally, with no call to
 * the gateway per request and no dependency on its database. Safe by default: the algorithm
 * set, issuer, audience and `typ: at+jwt` are pinned; the key set is discovered lazily (a
 * subgraph starts while the gateway is down), refetched when an unknown `kid` appears
 * (rotation; at most once per cooldown) and once it is older than its maximum age (so that a
 * retired key stops verifying), and kept while the issuer is unreachable. Every time it judges
 * (a token's exp and iat, when to fetch or ask again) is its clock's.
 */
import { base64url, createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify, UnsecuredJWT, type JWTClaimVerificationOptions, type JWTVerifyGetKey } from 'jose';
import { describeError } from '../describe-error';
import {
  ACCESS_TOKEN_CHECKS,
  accessClaimsOf,
  CLOCK_SKEW_SECONDS,
  isCanonicalCompactJws,
  isStringArray,
  JWKS_MAX_AGE_SECONDS,
  MAX_ACCESS_TOKEN_TTL,
} from '../domain/tokens/verify-access-token';
import { checkedClock, type Clock } from './clock.js';
import { stderrWarnings, type KitLogger } from './logger.js';

export interface VerifierOptions {
  /** The gateway's JWT_ISSUER. */
  issuer: string;
  /** The gateway's JWT_AUDIENCE. */
  audience: string;
  /** Default: discovered from `${issuer}/.well-known/openid-configuration`. */
  jwksUrl?: string | undefined;
  /** Default: the gateway's default, ES256. */
  algorithms?: string[] | undefined;
  /** Seconds between refetches for unknown key ids: at least 1, default 30. */
  cooldownSeconds?: number | undefined;
  /**
   * Seconds after which the key set is fetched again before use, so that a key the gateway has
   * retired stops verifying: at least 1, default 300 (the JWKS's own cache lifetime).
   */
  keySetMaxAgeSeconds?: number | undefined;
  /** Default 60, as the gateway. */
  clockToleranceSeconds?: number | undefined;
  /** Sessions revoked before their tokens expire (see the revocation feed); default none. */
  isRevoked?: ((sessionId: string) => boolean) | undefined;
  /**
   * Where warnings go: a discovery or key-set fetch that failed (once until one succeeds), so
   * that a misconfiguration (an issuer its discovery document does not name) is not taken for
   * an outage. Default: JSON lines on stderr, at level warn.
   */
  logger?: KitLogger | undefined;
  /** What it asks for the time, for tokens' exp and iat and for the key set's waits. Default: the system's. */
  clock?: Clock | undefined;
}

export interface SubgraphViewer {
  userId: string;
  sessionId: string;
  roles: string[];
  amr: string[];
  expiresAt: Date;
}

export type VerifyFailure = 'missing' | 'malformed' | 'expired' | 'invalid' | 'revoked' | 'unavailable';
export type VerifyResult = { ok: true; viewer: SubgraphViewer } | { ok: false; reason: VerifyFailure };

export function createVerifier(options: VerifierOptions) {
  // Left out (plain JavaScript has no types to say so), jose would not check the claim at all.
  if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('issuer must be a non-empty string: the gateway\'s JWT_ISSUER');
  if (typeof options.audience !== 'string' || options.audience === '') throw new TypeError('audience must be a non-empty string: the gateway\'s JWT_AUDIENCE');
  // The gateway refuses such settings: a space at either end (an environment file's) would make
  // every token answer 'invalid'.
  for (const name of ['issuer', 'audience'] as const) {
    const setting = name === 'issuer' ? 'JWT_ISSUER' : 'JWT_AUDIENCE';
    if (options[name].trim() !== options[name]) throw new TypeError(`${name} must not begin or end with a space: the gateway's ${setting}`);
  }
  if (options.algorithms !== undefined && (!isStringArray(options.algorithms) || options.algorithms.length === 0)) {
    throw new TypeError('algorithms must be a non-empty list of JWS algorithm names');
  }
  if (options.isRevoked !== undefined && typeof options.isRevoked !== 'function') throw new TypeError('isRevoked must be a function');
  const clock = checkedClock(options.clock);
  const cooldown = options.cooldownSeconds ?? 30;
  // Without a cooldown, every token with an unknown kid would make the subgraph fetch the key set.
  if (!Number.isFinite(cooldown) || cooldown < 1) throw new TypeError('cooldownSeconds must be a number of seconds, at least 1');
  const maxAge = options.keySetMaxAgeSeconds ?? JWKS_MAX_AGE_SECONDS;
  if (!Number.isFinite(maxAge) || maxAge < 1) throw new TypeError('keySetMaxAgeSeconds must be a number of seconds, at least 1');
  const clockTolerance = options.clockToleranceSeconds ?? CLOCK_SKEW_SECONDS;
  // jose would throw at every verification instead, each answered 'unavailable'.
  if (typeof clockTolerance !== 'number' || !Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new TypeError('clockToleranceSeconds must be a number of seconds, at least 0');
  }
  // Where the keys come from must be a URL, or every discovery or fetch would fail on it and every
  // token answer 'unavailable', as in an outage of the issuer. An empty jwksUrl (an environment
  // variable left empty) means discovery, as in resolveJwksUrl.
  const [name, url] = options.jwksUrl ? ['jwksUrl', options.jwksUrl] : ['issuer', options.issuer];
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`${name} must be an absolute http(s) URL`);
  const logger = options.logger ?? stderrWarnings('verifier');
  const fetches = fetchWarnings(logger);
  const mismatches = claimMismatchWarnings(logger, options);
  let keys: Promise<JWTVerifyGetKey> | undefined;
  // Set once a discovery has failed; never reached while one is under way or once one succeeded.
  let discoverAgainAt = Number.POSITIVE_INFINITY;
  const keySet = () => {
    if (keys && clock.now().getTime() < discoverAgainAt) return keys;
    discoverAgainAt = Number.POSITIVE_INFINITY;
    const discovered = resolveJwksUrl(options).then((url) => {
      // jose fetches and imports the keys; when to fetch is fetchedByClock's to decide, by the
      // kit's clock (jose's own cooldown and maximum age read Date.now(): never reached here).
      const remote = createRemoteJWKSet(new URL(url), {
        cooldownDuration: Number.POSITIVE_INFINITY,
        cacheMaxAge: Number.POSITIVE_INFINITY,
        timeoutDuration: FETCH_TIMEOUT_MS,
        [customFetch]: async (url: string, init: RequestInit) => {
          const response = await fetchCapped(url, init);
          if (response.status !== 200) throw new KeySetError(`the key set answered ${response.status}`);
          return response;
        },
      });
      // A failure of the key set after a failed discovery is another matter, told again.
      fetches.succeeded();
      return fetchedByClock(remote, { cooldown, maxAge, clock, fetches });
    });
    // A failed discovery is asked again after a second at the earliest; meanwhile tokens are
    // unavailable at once, not each after its own wait for an issuer that does not answer.
    discovered.catch((error: unknown) => {
      fetches.failed(error, 'discovery of the key set failed: tokens that could pass answer unavailable');
      discoverAgainAt = clock.now().getTime() + DISCOVERY_RETRY_MS;
    });
    keys = discovered;
    return keys;
  };

  const algorithms = options.algorithms ?? ['ES256'];
  // What a token must say whatever its signature (also asked of one the keys cannot settle yet).
  const claimChecks = {
    issuer: options.issuer,
    audience: options.audience,
    // As the gateway requires: the token type, and the claims every token it issues has.
    ...ACCESS_TOKEN_CHECKS,
    clockTolerance,
    // The gateway's longest ACCESS_TOKEN_TTL; this also refuses an iat in the future (beyond
    // the skew), which a gateway instance whose clock runs ahead would write.
    maxTokenAge: MAX_ACCESS_TOKEN_TTL,
  };
  async function verify(token: string | null | undefined): Promise<VerifyResult> {
    if (!token) return { ok: false, reason: 'missing' };
    const checks = { ...claimChecks, currentDate: clock.now() };
    // One spelling per token, as the gateway takes it: jose's decoder would also skip whitespace
    // and take padding.
    if (!isCanonicalCompactJws(token)) return { ok: false, reason: 'malformed' };
    let getKey: JWTVerifyGetKey;
    try {
      getKey = await keySet();
    } catch {
      return { ok: false, reason: await withoutKeys(token, algorithms, checks) };
    }
    try {
      const { payload } = await jwtVerify(token, getKey, { algorithms, ...checks });
      const claims = accessClaimsOf(payload);
      if (!claims) return { ok: false, reason: 'invalid' };
      if (options.isRevoked?.(claims.sessionId)) return { ok: false, reason: 'revoked' };
      return { ok: true, viewer: { ...claims, expiresAt: new Date(payload.exp! * 1000) } };
    } catch (error) {
      mismatches.check(error);
      const reason = reasonOf(error);
      return { ok: false, reason: reason === 'unavailable' ? await withoutKeys(token, algorithms, checks) : reason };
    }
  }

  return {
    verify,
    /** From an `Authorization: Bearer …` header value. */
    verifyAuthorization: (header: string | null | undefined) => {
      const match = header ? /^Bearer +(\S+)$/i.exec(header.trim()) : null;
      return verify(match?.[1]);
    },
  };
}

/** A key-set fetch that takes longer gives up (the request it holds up waits no more). */
const FETCH_TIMEOUT_MS = 2000;
const DISCOVERY_RETRY_MS = 1000;
/** A key set or discovery document larger than this is refused; the gateway's are a few KB. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/**
 * fetch, but a 200 answer's body is read here, and refused as soon as it exceeds
 * MAX_DOCUMENT_BYTES, whatever length it declares: an issuer (or whatever answers in its name)
 * cannot make the subgraph hold an unbounded document in memory. Other answers are returned with
 * their body discarded.
 */
async function fetchCapped(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel();
    return response;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > MAX_DOCUMENT_BYTES) {
      await reader.cancel();
      throw new Error(`document larger than ${MAX_DOCUMENT_BYTES} bytes`);
    }
    chunks.push(read.value);
  }
  return new Response(Buffer.concat(chunks), { status: 200, headers: response.headers });
}

/** The key set could not be fetched and none was before: the token can be neither accepted nor refused. */
class KeySetUnavailable extends Error {}

/**
 * The remote key set, fetched when the kit's clock says: before use once the set is older than
 * `maxAge`, and for a token naming an unknown key once it is older than `cooldown`. When a fetch
 * fails (the issuer down, or not answering 200 with a key set), the last set it published
 * answers, and the issuer is asked again only after `cooldown` seconds: not by every request
 * meanwhile, whether its set was due or its token named an unknown key. A failed fetch leaves
 * the set as it was, so the one that stands in is always the latest fetched successfully: a key
 * it no longer lists is refused. With no set yet, a failed fetch makes tokens unavailable, and
 * the issuer is asked again a second later at the earliest (as discovery is).
 */
function fetchedByClock(
  remote: ReturnType<typeof createRemoteJWKSet>,
  { cooldown, maxAge, clock, fetches }: { cooldown: number; maxAge: number; clock: Clock; fetches: FetchWarnings },
): JWTVerifyGetKey {
  // Finite once a fetch succeeded, so exactly while a set is held (asking jose, remote.jwks(),
  // would copy the whole set at each verification of an outage).
  let fetchedAt = Number.NEGATIVE_INFINITY;
  const held = () => fetchedAt > Number.NEGATIVE_INFINITY;
  let askAgainAt = Number.NEGATIVE_INFINITY;
  const fetchSet = async () => {
    // After a failed fetch the issuer is left alone for a while: the last set answers, or none.
    if (clock.now().getTime() < askAgainAt) {
      if (held()) return;
      throw new KeySetUnavailable();
    }
    try {
      await remote.reload();
      fetchedAt = clock.now().getTime();
      fetches.succeeded();
    } catch (error) {
      askAgainAt = clock.now().getTime() + (held() ? cooldown * 1000 : DISCOVERY_RETRY_MS);
      if (!held()) {
        fetches.failed(error, 'the key set could not be fetched: tokens that could pass answer unavailable');
        throw new KeySetUnavailable('key set unavailable', { cause: error });
      }
      fetches.failed(error, 'the key set could not be fetched: verifying with the last keys fetched');
    }
  };
  return async (header, token) => {
    if (clock.now().getTime() >= fetchedAt + maxAge * 1000) await fetchSet();
    // With a set held and durations that never run out, this only looks the key up in it.
    try {
      return await remote(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || clock.now().getTime() < fetchedAt + cooldown * 1000) throw error;
      await fetchSet();
      return remote(header, token);
    }
  };
}

type FetchWarnings = ReturnType<typeof fetchWarnings>;

/**
 * One warning per spell of failures, as the revocation feed warns once per outage: the first
 * failure after a success (or the start) is told, with what failed (a discovery that names
 * another issuer, a refused connection), not every retry while it lasts.
 */
function fetchWarnings(logger: KitLogger) {
  let failing = false;
  return {
    failed(error: unknown, message: string) {
      if (failing) return;
      failing = true;
      // Our own reasons, and jose's (fixed texts: 'JSON Web Key Set malformed'…), say what was wrong.
      const reason = error instanceof UnusableDocument || error instanceof errors.JOSEError ? error.message : undefined;
      logger.warn({ err: { ...describeError(error), ...(reason && { reason }) } }, message);
    },
    succeeded() {
      failing = false;
    },
  };
}

/**
 * A token whose signature verified (the gateway signed it) but whose audience or issuer is not
 * the one given is a misconfiguration rather than an attack: every token would answer 'invalid'
 * and nothing would say why. Said once per claim, with what the token names.
 */
function claimMismatchWarnings(logger: KitLogger, options: Pick<VerifierOptions, 'audience' | 'issuer'>) {
  const told = new Set<string>();
  const option = { aud: 'audience', iss: 'issuer' } as const;
  return {
    check(error: unknown) {
      if (!(error instanceof errors.JWTClaimValidationFailed) || error.reason !== 'check_failed') return;
      const claim = error.claim;
      if ((claim !== 'aud' && claim !== 'iss') || told.has(claim)) return;
      told.add(claim);
      const named = JSON.stringify(error.payload[claim])?.slice(0, 200);
      logger.warn(
        { claim, token: named, expected: options[option[claim]] },
        `a token signed with the issuer's keys names another ${option[claim]}: is ${option[claim]} the gateway's ${claim === 'aud' ? 'JWT_AUDIENCE' : 'JWT_ISSUER'}?`,
      );
    },
  };
}

/** A document the issuer answered with that cannot be used: what is wrong with it is ours to say. */
class UnusableDocument extends Error {}
class DiscoveryError extends UnusableDocument {
  override name = 'DiscoveryError';
}
class KeySetError extends UnusableDocument {
  override name = 'KeySetError';
}

async function resolveJwksUrl(options: VerifierOptions) {
  if (options.jwksUrl) return options.jwksUrl;
  const response = await fetchCapped(`${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    // The document must come from the issuer itself (OpenID Connect Discovery, 4.3).
    redirect: 'error',
  });
  if (response.status !== 200) throw new DiscoveryError(`discovery answered ${response.status}`);
  const { issuer, jwks_uri: url } = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (issuer !== options.issuer) {
    throw new DiscoveryError(`discovery names another issuer: ${JSON.stringify(issuer)?.slice(0, 200)}, not ${JSON.stringify(options.issuer)}`);
  }
  if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new DiscoveryError('discovery has no jwks_uri that is an absolute http(s) URL');
  }
  return url;
}

/** Thrown by withoutKeys' key function: jose's checks before a key have all passed. */
const KEYS_NEEDED = new Error('keys needed');

/**
 * Without keys a token can be neither accepted nor refused, unless it would be refused with them
 * whatever they are: jose's own checks before it asks for a key (a JWT's shape, `crit`, the
 * algorithm pinned), then a payload that is no JWT's (malformed; verify has already refused a
 * token not spelt canonically, an empty signature included), then jose's checks of the claims
 * (typ, issuer, audience, the claims every token of ours has: invalid; exp past, or iat too
 * long ago, beyond the skew: expired) and the claims' types (invalid). Only a token that could
 * still pass is unavailable, so a client is not asked to retry
 * what never will, and one that will is never told it won't. Checked only when the keys are
 * missing, off the path of every request.
 */
async function withoutKeys(
  token: string,
  algorithms: string[],
  checks: JWTClaimVerificationOptions,
): Promise<VerifyFailure> {
  try {
    await jwtVerify(token, () => Promise.reject(KEYS_NEEDED), { algorithms });
  } catch (error) {
    if (error !== KEYS_NEEDED) return reasonOf(error);
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
    decodeJwt(token);
  } catch {
    return 'malformed';
  }
  // jose's checks after the signature (typ, the claims required, issuer, audience, exp, iat), on
  // the claims alone: the token is spelt as an unsecured JWT only to ask them, and nothing is
  // accepted from here. A refusal says what the keys would not change.
  const unsecured = `${base64url.encode(JSON.stringify({ alg: 'none', typ: header.typ }))}.${token.split('.')[1]}.`;
  try {
    const { payload } = UnsecuredJWT.decode(unsecured, checks);
    return accessClaimsOf(payload) ? 'unavailable' : 'invalid';
  } catch (error) {
    return reasonOf(error);
  }
}

function reasonOf(error: unknown): VerifyFailure {
  if (error instanceof KeySetUnavailable) return 'unavailable';
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  if (error instanceof errors.JWKSTimeout || error instanceof TypeError) return 'unavailable';
  if (error instanceof errors.JOSEError) return 'invalid';
  return 'unavailable';
}
