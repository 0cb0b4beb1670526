import { Command, Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisConnection {
  client: Redis;
  /** True while connected; false during an outage (limits then run on the fallback), and on a cluster node. */
  healthy(): boolean;
  /**
   * Why the Redis connected to last cannot be used as it is, if it cannot: a Redis Cluster node,
   * which the gateway does not support (a plain client gets MOVED for most keys), or a database
   * (REDIS_URL's /n) it refuses; undefined until connected.
   */
  refusal(): Promise<string | undefined>;
  /** Resolves true once connected, false if that takes longer than `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * ioredis set to fail fast: with the offline queue off, one retry and a command timeout, a
 * command fails within milliseconds while Redis is down or unresponsive (the defaults hang for 15 s, and the insurance limiter would
 * never take over). It reconnects on its own; an outage is logged once, and so is recovery.
 */
const STALL_CHECK_MS = 1000;
const COMMAND_TIMEOUT_MS = 300;
const STALL_AFTER_UNANSWERED = 2;
/**
 * Unanswered that many times in a row, the connection is dropped and made anew: one that a NAT
 * or balancer forgot while idle stays open, deaf, until TCP keep-alive gives up (hours). A shorter
 * stall (a Redis stopped or swapping for a few seconds) keeps the connection it has.
 */
const RECONNECT_AFTER_UNANSWERED = 10;

export function connectRedis(url: string, logger: Logger): RedisConnection {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A Redis that accepts the connection but does not answer (paused, overloaded, a black
    // hole) must not hang logins either: the fallback answers after this.
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    // Commands issued in the same tick (a login's counters) leave in one write.
    enableAutoPipelining: true,
    // The start-up CONFIG GET (warnOfEviction) goes alone: in one automatic pipeline with the
    // first counters' commands it broke their results ("results[i] is not iterable").
    autoPipeliningIgnoredCommands: ['config', 'info'],
    // A command whose promise has failed (timed out) is not sent again after a reconnection: it
    // would run whenever that is, say a reset (DEL) wiping counters built up since.
    autoResendUnfulfilledCommands: false,
  });
  let down = false;
  const markDown = () => {
    if (down) return;
    down = true;
    logger.warn('Redis unavailable: rate limits fall back as configured by RATE_LIMIT_FAIL until it returns');
  };
  client.on('error', markDown);
  client.on('close', () => {
    if (client.status !== 'end') markDown();
  });
  const markUp = () => {
    if (!down) return;
    down = false;
    logger.info('Redis is back: rate limits are shared again');
  };
  // A Redis that keeps the connection but stops answering (stopped, swapping, a network black
  // hole) raises no event: a PING every second tells. Two in a row unanswered (one slow answer
  // is a fork or a slow command, not an outage), and the connection counts as down, so the
  // counters skip Redis instead of waiting out a timeout per command. An error reply (a Redis
  // user without PING, say) is an answer.
  let stalled = false;
  let unanswered = 0;
  let pinging = false;
  // A cluster node answers a plain client MOVED for every key another node holds: the counters
  // would silently fall back to each instance's memory for most keys. And a database Redis
  // refuses to SELECT leaves ioredis on database 0, among whatever else lives there. Either
  // counts as down instead.
  let refused: string | undefined;
  let checked: Promise<void> = Promise.resolve();
  // Each connection's check: one that outlived its connection (dropped while INFO was on its
  // way) decides nothing.
  let connection = 0;
  const check = async (own: number) => {
    const problem = (await isClusterNode(client)) ? CLUSTER_UNSUPPORTED : await refusedDatabase(client);
    if (own !== connection || client.status !== 'ready') return;
    if (problem && problem !== refused) logger.error(`${problem}; meanwhile Redis counts as down`);
    refused = problem;
    if (!refused) markUp();
  };
  client.on('ready', () => {
    stalled = false;
    unanswered = 0;
    checked = check(++connection);
  });
  client.once('ready', () => void warnOfEviction(client, logger));
  const watch = setInterval(() => {
    if (client.status !== 'ready' || pinging) return;
    pinging = true;
    pingAnswered(client)
      .then((answered) => {
        if (answered) {
          unanswered = 0;
          stalled = false;
          if (!refused) markUp();
        } else if (++unanswered >= STALL_AFTER_UNANSWERED && client.status === 'ready') {
          stalled = true;
          markDown();
          if (unanswered >= RECONNECT_AFTER_UNANSWERED) {
            logger.warn({ unanswered }, 'Redis has not answered on this connection for a while: connecting anew');
            client.disconnect(true);
          }
        }
      })
      .finally(() => (pinging = false));
  }, STALL_CHECK_MS);
  watch.unref();
  return {
    client,
    healthy: () => client.status === 'ready' && !stalled && !refused,
    refusal: async () => {
      await checked;
      return refused;
    },
    ready: (timeoutMs) =>
      client.status === 'ready'
        ? Promise.resolve(true)
        : new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            client.once('ready', () => {
              clearTimeout(timer);
              resolve(true);
            });
          }),
    close: async () => {
      clearInterval(watch);
      client.removeAllListeners('error');
      client.on('error', () => {});
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * Whether Redis answers a PING within the command timeout (an error reply, from a Redis user
 * without PING say, is an answer). Sent as a command of its own, not in an automatic pipeline
 * behind the counters' commands. One that timed out while this process was too busy to read its
 * answer (a flood of requests) was answered all the same: once a poll phase has read what waits
 * on the socket, its answer has been read, and the command has left the queue of those awaiting
 * one (on the same connection: a reconnection empties the queue unanswered). Counted as
 * unanswered, a flood would have every instance take Redis for away and grant the insurance's
 * budgets on top of Redis's. A Redis slower than the timeout does not answer in time, however
 * much else it answers late.
 */
export async function pingAnswered(client: Redis): Promise<boolean> {
  const ping = new Command('ping', [], { replyEncoding: 'utf8' });
  const stream = client.stream;
  const awaited = () => client.commandQueue.toArray().some((item) => item.command === ping);
  void client.sendCommand(ping);
  const written = awaited(); // not when refused at once (a connection not writable)
  try {
    await ping.promise;
    return true;
  } catch {
    if (!written) return false;
    await new Promise((resolve) => setImmediate(resolve));
    return client.stream === stream && !awaited();
  }
}

export const CLUSTER_UNSUPPORTED =
  'REDIS_URL is a Redis Cluster node, which the gateway does not support: give it one Redis server (a primary, with replicas and failover as your platform provides them)';

/**
 * Why Redis refuses REDIS_URL's database (asked again: ioredis only says so as an error event).
 * Only a reply says so: a SELECT that times out is a slow Redis, which the stall watch handles,
 * not a refusal that would keep Redis counted as down (or refuse the start) until it reconnects.
 */
async function refusedDatabase(client: Redis) {
  const db = client.options.db ?? 0;
  if (db === 0) return undefined;
  try {
    await client.select(db);
    return undefined;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ReplyError')) return undefined;
    return `REDIS_URL names database ${db}, which this Redis refuses (${error.message.split(' ')[0]}; it has as many as its "databases" setting, 16 by default)`;
  }
}

/** From INFO; false when Redis does not say (INFO disabled or renamed). */
async function isClusterNode(client: Redis) {
  try {
    return /^cluster_enabled:1\s*$/m.test(await client.info('cluster'));
  } catch {
    return false;
  }
}

/**
 * Every key of the gateway expires, so a Redis that evicts keys when full (any policy but
 * noeviction) would drop rate-limit counters (an attacker's budget starting over) and revoked
 * sessions. Said once at start-up; a Redis that does not allow CONFIG (some managed ones) is
 * not asked.
 */
async function warnOfEviction(client: Redis, logger: Logger) {
  try {
    const [, policy] = (await client.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy && policy !== 'noeviction') {
      logger.warn({ policy }, 'Redis maxmemory-policy is not noeviction: when Redis is full it may drop rate-limit counters and revoked sessions');
    }
  } catch {
    // CONFIG is disabled or renamed here
  }
}
