/**
 * Token records and markers on Redis, through the client adapter (ioredis or node-redis, single,
 * Sentinel or Cluster).
 *
 * Layout (scripts in `redis-scripts.ts`): one string per user, `<prefix>u:{<userId>}`, with one line per
 * login: `<session id> <expiry, epoch seconds in base 36>|<sealed record>`. A string rather than a hash:
 * a sealed record (about 230 bytes) is longer than Redis's default `hash-max-listpack-value` (64), so a
 * hash would be a hashtable, about 100 bytes more per user. Expired logins are pruned by every write,
 * and the key expires with its latest login. A login whose record ends before the login does (a refresh
 * token shorter than the session) is also listed in `<prefix>us:{<userId>}`, lines
 * `<session id> <login end>`, so that unlink and the webhook still find its session; that key exists
 * only while such a login does. Markers are plain keys `<prefix><name>` (their names carry the user's hash
 * tag where they belong to a user). Every operation is one command, and everything of one user sits in
 * one slot.
 */
import { checkOptionNames, configError } from '../config';
import { TokenStoreError } from '../errors';
import {
  checkLoginKey,
  checkRecordWrite,
  checkMarker,
  checkMaxLogins,
  checkSealed,
  checkTtlMs,
  checkId,
  type LoginKey,
  type MarkerStore,
  type RecordWriteOptions,
  type StoredLogin,
  type TokenStore,
  type WriteOptions,
  OFFLINE_SESSION_ID,
} from './contracts';
import {
  RedisScript,
  connectRedis,
  scrubRedisError,
  type RedisClientLike,
  type RedisConnection,
} from './redis-client';
import {
  CAS,
  DELETE_IF,
  DELETE_LOGIN,
  DELETE_USER,
  GET_LOGIN,
  LIST_USER,
  SET,
  escapeLine,
  loginLines,
  parseValue,
} from './redis-scripts';

/** Options of {@link RedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * The caller's client: ioredis `Redis` or `Cluster`, or node-redis `createClient()`,
   * `createCluster()` or `createSentinel()`. The store neither connects nor quits it. Configure it to
   * fail fast (ioredis: `enableOfflineQueue: false`, `maxRetriesPerRequest: 1`, `commandTimeout`;
   * node-redis: `disableOfflineQueue: true`, `commandOptions: { timeout }`).
   */
  client: RedisClientLike;
  /** Prepended to every key; no `{`, `}` or whitespace. Default `'kakao:'`. */
  prefix?: string;
  /** Logins kept per user; the oldest are dropped beyond it. Default 50. */
  maxLoginsPerUser?: number;
  /**
   * For durable writes (rotated refresh tokens): how long to wait for one replica, in ms; `0` never
   * waits. Skipped at no cost when the deployment has no replicas. Default 500.
   */
  replicaWaitMs?: number;
  /** Clock in epoch ms, for tests. Default `Date.now`. */
  now?: () => number;
}

const WHAT = 'RedisTokenStore';
const OPTIONS = ['client', 'prefix', 'maxLoginsPerUser', 'replicaWaitMs', 'now'] as const;
/** How long a replica count read from Redis is trusted. */
const REPLICA_PROBE_MS = 5000;

/**
 * A {@link TokenStore} (with {@link MarkerStore} markers on the same client) on Redis.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * const redis = await createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true }).connect();
 * const tokenStore = new RedisTokenStore({ client: redis, prefix: 'myapp:kakao:' });
 * ```
 */
export class RedisTokenStore implements TokenStore {
  /** One-time login states, refresh locks and session tombstones, on the same Redis. */
  readonly markers: MarkerStore;
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #maxLogins: number;
  readonly #durable: DurableWrites;
  readonly #now: () => number;
  /**
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when the client is not a supported Redis client or
   *   an option is invalid.
   */
  constructor(options: RedisTokenStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw configError(`${WHAT}: options must be an object like { client: createClient({ url }) }.`);
    }
    checkOptionNames(WHAT, options, OPTIONS);
    const { prefix = 'kakao:', now = Date.now, replicaWaitMs = 500 } = options;
    this.#redis = connectRedis(options.client, WHAT);
    if (typeof prefix !== 'string' || !/^[^{}\s\p{Cc}]*$/u.test(prefix)) {
      throw configError(
        `${WHAT}: "prefix" must be a string without "{", "}" or whitespace (braces would break the Cluster hash tags), such as "myapp:kakao:".`,
      );
    }
    if (!Number.isInteger(replicaWaitMs) || replicaWaitMs < 0 || replicaWaitMs > 10_000) {
      throw configError(
        `${WHAT}: "replicaWaitMs" must be an integer from 0 to 10000 (got ${String(replicaWaitMs)}).`,
      );
    }
    if (typeof now !== 'function') throw configError(`${WHAT}: "now" must be a function returning epoch ms.`);
    this.#prefix = prefix;
    this.#maxLogins = checkMaxLogins(options.maxLoginsPerUser, WHAT);
    this.#durable = new DurableWrites(this.#redis, replicaWaitMs, now);
    this.#now = now;
    this.markers = new RedisMarkers(this.#redis, prefix, this.#durable);
  }

  isReady(): boolean {
    return this.#redis.isReady();
  }

  async get(key: LoginKey): Promise<string | undefined> {
    const { userId, sessionId } = checkLoginKey(key, 'get');
    const value = await this.#run(() =>
      this.#redis.script(GET_LOGIN, [this.#keys(userId)[0]], [sessionId, this.#seconds()]),
    );
    const parsed = typeof value === 'string' ? parseValue(value) : undefined;
    return parsed && parsed.expiresAt > this.#now() ? parsed.sealed : undefined;
  }

  async set(
    key: LoginKey,
    sealed: string,
    ttlSeconds: number,
    options: RecordWriteOptions = {},
  ): Promise<string[]> {
    const { userId, sessionId, loginTtl } = checkRecordWrite('set', { key, sealed, ttlSeconds, options });
    const ends = this.#loginEnd(loginTtl);
    const now = this.#seconds();
    const value = `${this.#expiry(ttlSeconds)}|${escapeLine(sealed)}`;
    const { reply } = await this.#write(
      SET,
      userId,
      [sessionId, value, now, this.#maxLogins, OFFLINE_SESSION_ID, ends],
      options,
    );
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  async compareAndSet(
    key: LoginKey,
    expected: string,
    sealed: string,
    ttlSeconds: number,
    options: RecordWriteOptions = {},
  ): Promise<boolean> {
    const write = { key, expected, sealed, ttlSeconds, options };
    const { userId, sessionId, loginTtl } = checkRecordWrite('compareAndSet', write);
    const ends = this.#loginEnd(loginTtl);
    const now = this.#seconds();
    const value = `${this.#expiry(ttlSeconds)}|${escapeLine(sealed)}`;
    const { reply, confirmed } = await this.#write(
      CAS,
      userId,
      [sessionId, escapeLine(expected), value, now, ends],
      options,
    );
    const written = Number(reply) === 1;
    // Written on the master, but a failover now could lose it: the caller has to keep the value and
    // confirm it later (a compareAndSet of the value onto itself).
    if (written && !confirmed) {
      throw new TokenStoreError('Token record written, but no replica confirmed it in time');
    }
    return written;
  }

  async delete(key: LoginKey): Promise<void> {
    const { userId, sessionId } = checkLoginKey(key, 'delete');
    const keys = this.#keys(userId);
    await this.#run(() => this.#redis.script(DELETE_LOGIN, keys, [sessionId, this.#seconds()]));
  }

  async listLogins(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'listLogins', 'userId');
    return this.#logins(await this.#run(() => this.#redis.script(LIST_USER, this.#keys(userId), [])));
  }

  async deleteUser(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'deleteUser', 'userId');
    return this.#logins(await this.#run(() => this.#redis.script(DELETE_USER, this.#keys(userId), [])));
  }

  /** The live logins in the texts of a user's two keys (a login in both: the later end). */
  #logins(texts: unknown): StoredLogin[] {
    const [records, held] = Array.isArray(texts) ? (texts as unknown[]) : [];
    const now = this.#now();
    const ends = new Map<string, number>();
    const add = (sessionId: string, expiresAt: number) => {
      if (expiresAt > now && expiresAt > (ends.get(sessionId) ?? 0)) ends.set(sessionId, expiresAt);
    };
    for (const [sessionId, value] of loginLines(records)) {
      const parsed = parseValue(value);
      if (parsed) add(sessionId, parsed.expiresAt);
    }
    for (const [sessionId, end] of loginLines(held)) add(sessionId, parseInt(end, 36) * 1000);
    return [...ends].map(([sessionId, expiresAt]) => ({ sessionId, expiresAt }));
  }

  /** The user's key (the logins and their records) and the key of logins that outlive their records. */
  #keys(userId: string): [string, string] {
    return [`${this.#prefix}u:{${userId}}`, `${this.#prefix}us:{${userId}}`];
  }

  /** The base-36 end of a login that outlives its record, or ''. */
  #loginEnd(loginTtl: number | undefined): string {
    return loginTtl === undefined ? '' : this.#expiry(loginTtl);
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** A field's expiry in base-36 epoch seconds, rounded up so a record never lives shorter than asked. */
  #expiry(ttlSeconds: number): string {
    return Math.ceil((this.#now() + ttlSeconds * 1000) / 1000).toString(36);
  }

  async #write(
    script: RedisScript,
    userId: string,
    args: Array<string | number>,
    options: WriteOptions,
  ): Promise<DurableReply> {
    return this.#run(() => this.#durable.run(script, this.#keys(userId), args, options.durable === true));
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    return runStore(operation);
  }
}

/** A script's reply, and whether a replica has the write (always true when it need not). */
interface DurableReply {
  reply: unknown;
  confirmed: boolean;
}

/**
 * Writes that must survive a failover: a script, then `WAIT 1 <ms>` on the same connection. Skipped at no
 * cost when the deployment has no replicas (cluster clients know their topology; others ask Redis at most
 * every few seconds).
 */
class DurableWrites {
  #replicas: { count: number; at: number } | undefined;

  constructor(
    private readonly redis: RedisConnection,
    private readonly waitMs: number,
    private readonly now: () => number,
  ) {}

  async run(
    script: RedisScript,
    keys: string[],
    args: Array<string | number>,
    durable: boolean,
  ): Promise<DurableReply> {
    if (!durable || !(await this.#hasReplicas(keys[0]!))) {
      return { reply: await this.redis.script(script, keys, args), confirmed: true };
    }
    const { reply, acknowledged } = await this.redis.scriptThenWait(script, keys, args, 1, this.waitMs);
    // Not acknowledged in time: look at the topology again before the next durable write.
    if (acknowledged < 1) this.#replicas = undefined;
    return { reply, confirmed: acknowledged >= 1 };
  }

  async #hasReplicas(key: string): Promise<boolean> {
    if (this.waitMs === 0) return false;
    const known = this.redis.knownReplicas(key);
    if (known !== undefined) return known > 0;
    const now = this.now();
    if (!this.#replicas || now - this.#replicas.at > REPLICA_PROBE_MS) {
      const info = await this.redis.command(['INFO', 'replication'], key);
      const match = /connected_slaves:(\d+)/.exec(typeof info === 'string' ? info : String(info));
      this.#replicas = { count: match ? Number(match[1]) : 0, at: now };
    }
    return this.#replicas.count > 0;
  }
}

async function runStore<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new TokenStoreError('Token store unavailable', { cause: scrubRedisError(error) });
  }
}

class RedisMarkers implements MarkerStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #durable: DurableWrites;

  constructor(redis: RedisConnection, prefix: string, durable: DurableWrites) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#durable = durable;
  }

  isReady(): boolean {
    return this.#redis.isReady();
  }

  async add(name: string, value: string, ttlMs: number): Promise<boolean> {
    const key = this.#prefix + checkMarker(name, 'add');
    checkSealed(value, 'add', 'value');
    checkTtlMs(ttlMs, 'add');
    const reply = await runStore(() => this.#redis.command(['SET', key, value, 'PX', ttlMs, 'NX'], key));
    return reply === 'OK';
  }

  async has(name: string): Promise<boolean> {
    const key = this.#prefix + checkMarker(name, 'has');
    return Number(await runStore(() => this.#redis.command(['EXISTS', key], key))) === 1;
  }

  async deleteIf(name: string, value: string, options: WriteOptions = {}): Promise<boolean> {
    const key = this.#prefix + checkMarker(name, 'deleteIf');
    checkSealed(value, 'deleteIf', 'value');
    const { reply } = await runStore(() =>
      this.#durable.run(DELETE_IF, [key], [value], options.durable === true),
    );
    return Number(reply) === 1;
  }
}
