/**
 * The gateway's revocation feed, for subgraphs: subscribes to the channel, loads the current set
 * of revoked sessions whenever it (re)connects, and answers from memory, so rejecting a revoked
 * session costs no round trip per request. Use it as the verifier's `isRevoked`.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisRevocationFeed } from '../storage/redis/revocation-feed';

export interface RevocationFeedOptions {
  /** The Redis the gateway uses (its REDIS_URL). */
  redisUrl: string;
  /** The gateway's RATE_LIMIT_PREFIX, the namespace of its Redis keys. Default gw:rl. */
  prefix?: string;
}

export async function createRevocationFeed(options: RevocationFeedOptions) {
  const client = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000 });
  client.on('error', () => {}); // while Redis is away the last known set keeps being used
  await new Promise<void>((resolve) => {
    if (client.status === 'ready') return resolve();
    const timer = setTimeout(resolve, 3000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const feed = new RedisRevocationFeed(client, options.prefix ?? 'gw:rl', pino({ level: 'silent' }));
  await feed.started();
  return {
    isRevoked: (sessionId: string) => feed.isRevoked(sessionId, new Date()),
    async close() {
      await feed.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
