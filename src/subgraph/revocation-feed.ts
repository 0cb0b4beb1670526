/**
 * The gateway's revocation feed, for subgraphs: subscribes to the channel, loads the current set
 * of revoked sessions whenever it (re)connects, and answers from memory, so rejecting a revoked
 * session costs no round trip per request. Use it as the verifier's `isRevoked`. It only reads:
 * a Redis user with read and subscribe rights on the gateway's keys is enough.
 */
import { describeError } from '../describe-error';
import { DEFAULT_KEY_PREFIX } from '../storage/redis/key-prefix';
import { RedisRevocationFeed } from '../storage/redis/revocation-feed';
import { checkedClock, type Clock } from './clock.js';
import { stderrWarnings, type KitLogger } from './logger.js';

export interface RevocationFeedOptions {
  /** The Redis the gateway uses (its REDIS_URL). */
  redisUrl: string;
  /** The gateway's RATE_LIMIT_PREFIX, the namespace of its Redis keys. Default gw:rl. */
  prefix?: string | undefined;
  /**
   * Where warnings go: Redis unreachable (once per outage) or the revoked set not loaded (a
   * user without the rights, say). Default: JSON lines on stderr, at level warn.
   */
  logger?: RevocationFeedLogger | undefined;
  /** What it asks for the time: a revocation ends when the session's last token expires by it. Default: the system's. */
  clock?: Clock | undefined;
}

/** A pino logger fits, as does any other with these two methods. */
export type RevocationFeedLogger = KitLogger;

const STARTUP_WAIT_MS = 3000;
/**
 * The connection that loads the set is asked PING this often; one that does not answer within
 * its command timeout (a connection a NAT or balancer dropped while idle) is dropped and made
 * anew, which loads the set again. The subscriber connection is watched by the feed itself.
 */
const PING_MS = 5000;

export async function createRevocationFeed(options: RevocationFeedOptions) {
  const logger = options.logger ?? stderrWarnings('revocation-feed');
  const clock = checkedClock(options.clock);
  // Loaded here, not with the kit: a subgraph without the feed needs no ioredis (an optional peer).
  const { Redis } = await import('ioredis').catch((error: unknown) => {
    throw new Error('the revocation feed needs ioredis: npm install ioredis', { cause: error });
  });
  const client = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000 });
  // While Redis is away the last known set keeps being used; one warning per outage, not one
  // per reconnection attempt.
  let reachable = true;
  client.on('ready', () => (reachable = true));
  client.on('error', (error) => {
    if (!reachable) return;
    reachable = false;
    logger.warn({ err: describeError(error) }, 'Redis unreachable: sessions revoked meanwhile are refused here only once it is back');
  });
  await new Promise<void>((resolve) => {
    if (client.status === 'ready') return resolve();
    const timer = setTimeout(resolve, STARTUP_WAIT_MS);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const feed = new RedisRevocationFeed(client, options.prefix ?? DEFAULT_KEY_PREFIX, logger, { readOnly: true, clock });
  await feed.started();
  const liveness = setInterval(() => {
    if (client.status !== 'ready') return;
    client.ping().catch((error: unknown) => {
      if (error instanceof Error && /timed out/i.test(error.message) && client.status === 'ready') client.disconnect(true);
    });
  }, PING_MS).unref();
  return {
    isRevoked: (sessionId: string) => feed.isRevoked(sessionId, clock.now()),
    async close() {
      clearInterval(liveness);
      await feed.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
