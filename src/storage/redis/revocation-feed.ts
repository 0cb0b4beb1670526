import type { Redis } from 'ioredis';
import { LocalRevocations, type RevocationFeed } from '../../domain/revocation';
import { systemClock, type Clock } from '../../domain/clock';
import { CLOCK_SKEW_SECONDS } from '../../domain/tokens';
import { describeError } from '../../describe-error';
import { RevocationOutbox } from './revocation-outbox';

const STARTUP_WAIT_MS = 3000;
/**
 * Sessions per ZADD and message when a backlog is shared. ADD_AND_EXTEND unpacks twice as many
 * arguments, which Lua allows up to about 8,000: keep it well below.
 */
const BATCH = 1000;
/**
 * How soon a failed share is tried again while the connection still counts as ready (a Redis
 * that stopped answering without closing it): otherwise only its next 'ready' would.
 */
const RETRY_MS = 1000;
const POLL_MS = 100;
/**
 * The subscriber connection only listens, so a connection that died without closing (a NAT or
 * balancer that dropped it when idle) would go unnoticed for as long as TCP keep-alive takes
 * (hours by default), every revocation meanwhile lost: it is asked PING this often, and
 * reconnected (the set loaded anew) when no answer comes within SUBSCRIBER_PING_TIMEOUT_MS.
 */
const SUBSCRIBER_PING_MS = 5000;
const SUBSCRIBER_PING_TIMEOUT_MS = 2000;
/**
 * Adds the members (ARGV[2..]: score, id pairs) to the set KEYS[1] and makes it live at least
 * until ARGV[1] (ms since the epoch): an expiry is set if it has none, and only ever pushed on.
 */
const ADD_AND_EXTEND = `
redis.call('zadd', KEYS[1], unpack(ARGV, 2))
local at = tonumber(ARGV[1])
local left = redis.call('pttl', KEYS[1])
if left >= 0 then
  local t = redis.call('time')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + left >= at then return end
end
redis.call('pexpireat', KEYS[1], at)
`;

/** What the feed logs with: pino's logger, or any other with these two methods. */
export interface FeedLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

/**
 * The shared revocation feed: revoked session ids go into a Redis sorted set (score: when their
 * tokens have all expired) and onto a channel. Every instance keeps the set in memory: loaded
 * whenever its subscription (re)connects, updated by the channel, so the guard never asks Redis
 * per request. Each command touches one key.
 *
 * A revocation that cannot be shared (Redis down, or back but not yet ready) waits in an outbox
 * and is shared as soon as the connection is ready again, unless its tokens have expired by
 * then: an instance that missed it meanwhile would otherwise accept them until they expire.
 */
export class RedisRevocationFeed implements RevocationFeed {
  private readonly local = new LocalRevocations();
  private readonly outbox = new RevocationOutbox();
  // One share at a time. `sharing` is set and cleared synchronously, so a publish never waits
  // on a run that has already looked for its last batch: it starts one of its own.
  private sharing = false;
  private shared: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;
  /** Since a share failed or had to wait, until the outbox is empty again. */
  private backlog = false;
  /** The error of the last share that failed while connected, until one succeeds. */
  private refusal: unknown;
  private closed = false;
  private readonly subscriber: Redis;
  private readonly liveness: NodeJS.Timeout;
  private pinging = false;
  private readonly setKey: string;
  private readonly channel: string;

  /**
   * `readOnly`: a subgraph's copy, which only reads the set (its Redis user may lack write
   * rights: it then neither purges ended entries nor could share a revocation). `clock`: what
   * has expired is judged by it, as the revocations' lifetimes were (default: the system's).
   */
  constructor(
    private readonly client: Redis,
    prefix: string,
    private readonly logger: FeedLogger,
    private readonly options: { readOnly?: boolean; clock?: Clock } = {},
  ) {
    this.setKey = `${prefix}:revoked`;
    this.channel = `${prefix}:revocations`;
    // Its own connection (subscriber mode). Its commands wait for a connection however long
    // Redis is away (no retry limit): a SUBSCRIBE sent while Redis was down at start-up would
    // otherwise fail, and ioredis re-subscribes on reconnect only to channels it subscribed to.
    // The main connection's options are copied, but not its automatic pipelining: a PING left
    // unanswered when a stall made the liveness check reconnect would hold every later PING
    // behind it, and the check would reconnect every 5 s for good. Nor its refusal to resend:
    // without a command timeout here, a command in flight at a reconnection would otherwise be
    // neither answered nor failed (the next 'ready' subscribes again anyway). Nor its own
    // re-subscription on reconnect: every 'ready' subscribes here, and ioredis's drops its
    // promise, so one Redis refuses (a user whose channel rights were taken away) would be an
    // unhandled rejection, ending the process.
    this.subscriber = client.duplicate({
      enableOfflineQueue: true,
      commandTimeout: undefined,
      maxRetriesPerRequest: null,
      enableAutoPipelining: false,
      autoResendUnfulfilledCommands: true,
      autoResubscribe: false,
    });
    this.subscriber.on('error', () => {}); // outages are logged by the main connection
    this.subscriber.on('message', (_channel, message: string) => this.receive(message));
    // On every (re)connection: subscribe, then load the set, so that nothing published in
    // between is missed (a revocation is in the set before it is on the channel).
    let firstSubscribed!: () => void;
    const subscribed = new Promise<void>((resolve) => (firstSubscribed = resolve));
    this.subscriber.on('ready', () => void this.subscribeAndLoad().then(firstSubscribed));
    this.subscriber.on('close', () => (this.following = false));
    this.liveness = setInterval(() => void this.checkSubscriber(), SUBSCRIBER_PING_MS).unref();
    client.on('ready', () => {
      if (this.closed) return;
      void this.share();
      void this.load();
    });
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

  /**
   * Subscribes, then loads the set. Refused (a Redis user without the channel), the set still
   * counts, without what follows, and it is said once; the liveness check then asks again every
   * SUBSCRIBER_PING_MS, quietly, until the rights are back.
   */
  private async subscribeAndLoad(again = false) {
    this.subscribing = true;
    try {
      await this.subscriber.subscribe(this.channel);
      this.following = true;
      if (again) this.logger.info({}, 'revocations followed again: the channel is subscribed to');
    } catch (error) {
      if (this.closed || this.subscriber.status !== 'ready') return; // gone meanwhile; a reconnection subscribes again
      this.following = false;
      if (again) return;
      this.logger.warn({ err: describeError(error) }, 'revocations not followed: the channel could not be subscribed to; only sessions revoked before now are refused');
    } finally {
      this.subscribing = false;
    }
    await this.load();
  }

  /** Subscribed on the subscriber connection as it is now (a reconnection starts unsubscribed). */
  private following = false;
  private subscribing = false;

  /** PING on the subscriber connection; no answer in time: drop it, and let ioredis reconnect. */
  private async checkSubscriber() {
    if (this.closed || this.pinging || this.subscriber.status !== 'ready') return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      // An error is an answer too: a connection that closed says so through its own events.
      this.subscriber.ping().then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), SUBSCRIBER_PING_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.pinging = false;
    if (answered && !this.following && !this.subscribing && !this.closed && this.subscriber.status === 'ready') void this.subscribeAndLoad(true);
    if (answered || this.closed) return;
    this.logger.warn({}, 'the revocation channel stopped answering: reconnecting (the revoked set is loaded again once it is back)');
    this.subscriber.disconnect(true);
  }

  /** Why the last share failed: Redis's refusal (an ACL without ZADD, OOM), told apart from an outage. */
  private why() {
    return this.refusal === undefined || this.client.status !== 'ready' ? {} : { err: describeError(this.refusal) };
  }

  async publish(sessionIds: string[], until: Date) {
    this.local.remember(sessionIds, until.getTime());
    this.outbox.add(sessionIds.map((id) => [id, until.getTime()] as const));
    await this.share();
    const unshared = sessionIds.filter((id) => this.outbox.has(id)).length;
    if (unshared > 0) {
      this.logger.warn(
        { count: unshared, ...this.why() },
        'revocation not shared yet: Redis unavailable or refusing (this instance enforces it; shared once Redis takes it)',
      );
    }
  }

  /**
   * Tries to share the outbox for up to `timeoutMs` (0: one try), and resolves with how many
   * revoked sessions are still unshared: other instances accept their access tokens until they
   * expire.
   */
  async flush(timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.share();
      const left = deadline - Date.now();
      const unshared = this.outbox.size(this.nowMs());
      if (unshared === 0 || left <= 0 || this.client.status === 'end') return unshared;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    }
  }

  /** Shares the outbox now if the connection is ready; resolves once this run (or the one under way) ends. */
  private share(): Promise<void> {
    if (this.sharing) return this.shared;
    this.sharing = true;
    this.shared = this.shareAll();
    return this.shared;
  }

  private async shareAll() {
    try {
      for (;;) {
        if (this.client.status !== 'ready') {
          this.backlog ||= this.outbox.size(this.nowMs()) > 0;
          return;
        }
        const batch = this.outbox.take(this.nowMs(), BATCH);
        if (!batch) {
          this.backlog = false;
          return;
        }
        try {
          await this.send(batch);
          this.refusal = undefined;
        } catch (error) {
          this.refusal = error;
          this.outbox.add(batch);
          this.backlog = true;
          this.retryLater();
          return;
        }
        if (this.backlog) this.logger.info({ count: batch.length }, 'revocations shared now that Redis is back');
      }
    } finally {
      // Synchronously after the last look at the outbox: what is added from now on starts a run.
      this.sharing = false;
    }
  }

  /**
   * How many others listen on the channel: gateways and subgraphs' feeds on this Redis server
   * under this prefix, whatever database they use (Redis's channels are the server's) and this
   * feed's own subscription left out; undefined when Redis does not say (a user without PUBSUB).
   */
  async otherListeners(): Promise<number | undefined> {
    try {
      const [, count] = (await this.client.call('PUBSUB', 'NUMSUB', this.channel)) as [string, number];
      return Math.max(0, Number(count) - (this.following ? 1 : 0));
    } catch {
      return undefined;
    }
  }

  /** Into the set, then onto the channel: a revocation is in the set before it is on the channel. */
  private async send(batch: Array<[string, number]>) {
    const latest = batch.reduce((max, [, until]) => Math.max(max, until), 0);
    // The set ends with its latest entry, plus the clock skew (Redis's clock is not every
    // reader's). Added and its expiry set or pushed on in one step, by a script rather than
    // PEXPIREAT's NX and GT options, which Redis 6 lacks.
    await this.client.eval(ADD_AND_EXTEND, 1, this.setKey, latest + CLOCK_SKEW_SECONDS * 1000, ...batch.flatMap(([id, until]) => [until, id]));
    // One message per batch, under its latest expiry: a receiver keeps an entry a little longer
    // than its tokens live, never shorter.
    await this.client.publish(this.channel, JSON.stringify({ ids: batch.map(([id]) => id), until: latest }));
    // Each share pushes the set's expiry on, so entries that have ended are purged here too, not
    // only when an instance (re)connects: a set that revocations keep alive would grow without
    // end. After the announcement, which it never holds up; a failure waits for the next share.
    await this.client.zremrangebyscore(this.setKey, '-inf', this.nowMs() - CLOCK_SKEW_SECONDS * 1000).catch(() => {});
  }

  private retryLater() {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.share();
    }, RETRY_MS).unref();
  }

  private nowMs() {
    return (this.options.clock ?? systemClock).now().getTime();
  }

  isRevoked(sessionId: string, now: Date) {
    return this.local.isRevoked(sessionId, now);
  }

  /** Resolves once the current set has been loaded (tests, start-up). */
  async load() {
    try {
      const now = this.nowMs();
      // The set is shared: what has ended for this instance's clock may still count for another
      // one's, within the clock skew every verifier allows. Only older entries are purged (by
      // the gateway: a subgraph only reads).
      const ended = now - CLOCK_SKEW_SECONDS * 1000;
      if (!this.options.readOnly) await this.client.zremrangebyscore(this.setKey, '-inf', ended);
      const entries = await this.client.zrangebyscore(this.setKey, ended, '+inf', 'WITHSCORES');
      for (let i = 0; i < entries.length; i += 2) this.local.remember([entries[i]!], Number(entries[i + 1]));
      this.local.sweep(new Date(now));
      return true;
    } catch (error) {
      // Redis went away again (it is loaded anew when it returns), or refuses the commands (a
      // user without the rights): the sessions revoked before now are not known here.
      if (this.client.status === 'ready') {
        this.logger.warn({ err: describeError(error) }, 'revoked sessions not loaded from Redis: tokens of sessions revoked earlier are accepted until they expire');
      }
      return false;
    }
  }

  /**
   * Drops the subscriber connection at once (QUIT would wait behind a SUBSCRIBE still queued for
   * a Redis that never came back), tries the outbox once more, and resolves with how many
   * revoked sessions were never shared (a warning says how many, never which).
   */
  async close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.liveness);
    this.subscriber.disconnect();
    const unshared = await this.flush(0);
    if (unshared > 0) {
      this.logger.warn(
        { count: unshared, ...this.why() },
        "revocations never shared: Redis unavailable or refusing; other instances refuse these sessions' access tokens only once they next read the database (REVOCATION_POLL_SECONDS)",
      );
    }
    return unshared;
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
