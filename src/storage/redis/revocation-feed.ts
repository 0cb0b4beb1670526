import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LocalRevocations, type RevocationFeed } from '../../domain/revocation';
import { CLOCK_SKEW_SECONDS } from '../../domain/tokens/verify-access-token';

const STARTUP_WAIT_MS = 3000;

/**
 * The shared revocation feed: revoked session ids go into a Redis sorted set (score: when their
 * tokens have all expired) and onto a channel. Every instance keeps the set in memory: loaded
 * whenever its subscription (re)connects, updated by the channel, so the guard never asks Redis
 * per request. Each command touches one key.
 */
export class RedisRevocationFeed implements RevocationFeed {
  private readonly local = new LocalRevocations();
  private readonly subscriber: Redis;
  private readonly setKey: string;
  private readonly channel: string;

  constructor(
    private readonly client: Redis,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.setKey = `${prefix}:revoked`;
    this.channel = `${prefix}:revocations`;
    // Its own connection (subscriber mode). Its commands wait for a connection however long
    // Redis is away (no retry limit): a SUBSCRIBE sent while Redis was down at start-up would
    // otherwise fail, and ioredis re-subscribes on reconnect only to channels it subscribed to.
    this.subscriber = client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => {}); // outages are logged by the main connection
    this.subscriber.on('message', (_channel, message: string) => this.receive(message));
    // On every (re)connection: subscribe, then load the set, so that nothing published in
    // between is missed (a revocation is in the set before it is on the channel).
    let firstSubscribed!: () => void;
    const subscribed = new Promise<void>((resolve) => (firstSubscribed = resolve));
    this.subscriber.on('ready', () => void this.subscribeAndLoad().then(firstSubscribed));
    client.on('ready', () => void this.load());
    // Start-up waits for the first subscription while Redis is there, but never long: the set
    // also arrives later.
    this.initial =
      client.status === 'ready'
        ? new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, STARTUP_WAIT_MS).unref();
            void subscribed.finally(() => {
              clearTimeout(timer);
              resolve();
            });
          })
        : Promise.resolve();
  }

  private readonly initial: Promise<void>;

  /** Resolves once subscribed and the set known at start-up is in memory (when Redis was there to ask). */
  started() {
    return this.initial;
  }

  private async subscribeAndLoad() {
    try {
      await this.subscriber.subscribe(this.channel);
    } catch {
      return; // closed meanwhile; a reconnection subscribes again
    }
    await this.load();
  }

  async publish(sessionIds: string[], until: Date) {
    this.local.remember(sessionIds, until.getTime());
    const message = JSON.stringify({ ids: sessionIds, until: until.getTime() });
    try {
      await this.client.zadd(this.setKey, ...sessionIds.flatMap((id) => [until.getTime(), id]));
      // The set ends with its latest entry, plus the clock skew (Redis's clock is not every
      // reader's): set an expiry if it has none, else only extend it.
      const expiresAt = until.getTime() + CLOCK_SKEW_SECONDS * 1000;
      await this.client.pexpireat(this.setKey, expiresAt, 'NX');
      await this.client.pexpireat(this.setKey, expiresAt, 'GT');
      await this.client.publish(this.channel, message);
    } catch {
      this.logger.warn({ count: sessionIds.length }, 'revocation not shared: Redis unavailable (this instance enforces it)');
    }
  }

  isRevoked(sessionId: string, now: Date) {
    return this.local.isRevoked(sessionId, now);
  }

  /** Resolves once the current set has been loaded (tests, start-up). */
  async load() {
    try {
      const now = Date.now();
      // The set is shared: what has ended for this instance's clock may still count for another
      // one's, within the clock skew every verifier allows. Only older entries are purged.
      const ended = now - CLOCK_SKEW_SECONDS * 1000;
      await this.client.zremrangebyscore(this.setKey, '-inf', ended);
      const entries = await this.client.zrangebyscore(this.setKey, ended, '+inf', 'WITHSCORES');
      for (let i = 0; i < entries.length; i += 2) this.local.remember([entries[i]!], Number(entries[i + 1]));
      this.local.sweep(new Date(now));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Drops the subscriber connection at once: it only listens, so there is nothing to flush, and
   * QUIT would wait behind a SUBSCRIBE still queued for a Redis that never came back.
   */
  async close() {
    this.subscriber.disconnect();
  }

  private receive(message: string) {
    try {
      const { ids, until } = JSON.parse(message) as { ids: unknown; until: unknown };
      if (Array.isArray(ids) && typeof until === 'number') {
        this.local.remember(ids.filter((id): id is string => typeof id === 'string'), until);
      }
    } catch {
      // not ours
    }
  }
}
