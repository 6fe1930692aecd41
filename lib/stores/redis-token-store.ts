/**
 * Token records and markers on Redis, through the client adapter (ioredis or node-redis, single,
 * Sentinel or Cluster).
 *
 * Layout: one hash per user, `<prefix>u:{<userId>}`, with one field per login (the session id); a
 * field's value is `<expiry, epoch seconds in base 36>|<sealed record>`. Redis 7.0 has no per-field
 * expiry, so expired fields are pruned by every write, and the hash itself expires with its latest
 * field. Markers are plain keys `<prefix><name>` (their names carry the user's hash tag where they
 * belong to a user). Every operation is one command, and everything of one user sits in one slot.
 */
import { checkOptionNames, configError } from '../config';
import { TokenStoreError } from '../errors';
import {
  checkLoginKey,
  checkMarker,
  checkMaxLogins,
  checkSealed,
  checkTtlMs,
  checkTtlSeconds,
  checkId,
  type LoginKey,
  type MarkerStore,
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

// Shared by the write scripts: the expiry (base 36 seconds) in front of a field's value.
const EXPIRY = `local function expiry(v) return tonumber(string.match(v, '^(%w+)|'), 36) end`;

// KEYS[1] user hash. ARGV: field, value, now (s), max logins, field never dropped (offline).
const SET = new RedisScript(`${EXPIRY}
local key, now = KEYS[1], tonumber(ARGV[3])
redis.call('HSET', key, ARGV[1], ARGV[2])
local all = redis.call('HGETALL', key)
local others, latest = {}, 0
for i = 1, #all, 2 do
  local exp = expiry(all[i + 1])
  if exp == nil or exp <= now then
    redis.call('HDEL', key, all[i])
  else
    if exp > latest then latest = exp end
    if all[i] ~= ARGV[1] and all[i] ~= ARGV[5] then others[#others + 1] = { all[i], exp } end
  end
end
local dropped, keep = {}, tonumber(ARGV[4]) - 1
if #others > keep then
  table.sort(others, function(a, b) return a[2] < b[2] end)
  for i = 1, #others - keep do
    redis.call('HDEL', key, others[i][1])
    dropped[#dropped + 1] = others[i][1]
  end
end
redis.call('EXPIRE', key, latest - now)
return dropped`);

// KEYS[1] user hash. ARGV: field, expected sealed record, new value, now (s). Like SET, it prunes the
// expired fields and sets the hash TTL to the latest field expiry (which a shorter new value can lower).
const CAS = new RedisScript(`${EXPIRY}
local key, now = KEYS[1], tonumber(ARGV[4])
local v = redis.call('HGET', key, ARGV[1])
if not v then return 0 end
local sep = string.find(v, '|', 1, true)
if not sep or string.sub(v, sep + 1) ~= ARGV[2] or (expiry(v) or 0) <= now then return 0 end
redis.call('HSET', key, ARGV[1], ARGV[3])
local all = redis.call('HGETALL', key)
local latest = 0
for i = 1, #all, 2 do
  local exp = expiry(all[i + 1])
  if exp == nil or exp <= now then
    redis.call('HDEL', key, all[i])
  elseif exp > latest then
    latest = exp
  end
end
redis.call('EXPIRE', key, latest - now)
return 1`);

const DELETE_USER = new RedisScript(`
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all`);

const DELETE_IF = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

function parseValue(value: string): { expiresAt: number; sealed: string } | undefined {
  const sep = value.indexOf('|');
  const expiresAt = sep > 0 ? parseInt(value.slice(0, sep), 36) * 1000 : NaN;
  return Number.isFinite(expiresAt) ? { expiresAt, sealed: value.slice(sep + 1) } : undefined;
}

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
      this.#redis.command(['HGET', this.#userKey(userId), sessionId], this.#userKey(userId)),
    );
    const parsed = typeof value === 'string' ? parseValue(value) : undefined;
    return parsed && parsed.expiresAt > this.#now() ? parsed.sealed : undefined;
  }

  async set(
    key: LoginKey,
    sealed: string,
    ttlSeconds: number,
    options: WriteOptions = {},
  ): Promise<string[]> {
    const { userId, sessionId } = checkLoginKey(key, 'set');
    checkSealed(sealed, 'set', 'sealed');
    checkTtlSeconds(ttlSeconds, 'set');
    const now = this.#seconds();
    const value = `${this.#expiry(ttlSeconds)}|${sealed}`;
    const { reply } = await this.#write(
      SET,
      this.#userKey(userId),
      [sessionId, value, now, this.#maxLogins, OFFLINE_SESSION_ID],
      options,
    );
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  async compareAndSet(
    key: LoginKey,
    expected: string,
    sealed: string,
    ttlSeconds: number,
    options: WriteOptions = {},
  ): Promise<boolean> {
    const { userId, sessionId } = checkLoginKey(key, 'compareAndSet');
    checkSealed(expected, 'compareAndSet', 'expected');
    checkSealed(sealed, 'compareAndSet', 'sealed');
    checkTtlSeconds(ttlSeconds, 'compareAndSet');
    const now = this.#seconds();
    const value = `${this.#expiry(ttlSeconds)}|${sealed}`;
    const { reply, confirmed } = await this.#write(
      CAS,
      this.#userKey(userId),
      [sessionId, expected, value, now],
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
    const userKey = this.#userKey(userId);
    await this.#run(() => this.#redis.command(['HDEL', userKey, sessionId], userKey));
  }

  async listLogins(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'listLogins', 'userId');
    const userKey = this.#userKey(userId);
    return this.#logins(await this.#run(() => this.#redis.command(['HGETALL', userKey], userKey)));
  }

  async deleteUser(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'deleteUser', 'userId');
    const userKey = this.#userKey(userId);
    return this.#logins(await this.#run(() => this.#redis.script(DELETE_USER, [userKey], [])));
  }

  /** The logins in an HGETALL reply (a flat array in RESP2, an object or Map with some clients). */
  #logins(reply: unknown): StoredLogin[] {
    const entries: Array<[string, unknown]> = Array.isArray(reply)
      ? Array.from({ length: Math.floor(reply.length / 2) }, (_, i) => [
          String(reply[2 * i]),
          reply[2 * i + 1],
        ])
      : reply instanceof Map
        ? [...(reply as Map<unknown, unknown>)].map(([k, v]) => [String(k), v])
        : typeof reply === 'object' && reply !== null
          ? Object.entries(reply)
          : [];
    const now = this.#now();
    const logins: StoredLogin[] = [];
    for (const [sessionId, value] of entries) {
      const parsed = typeof value === 'string' ? parseValue(value) : undefined;
      if (parsed && parsed.expiresAt > now) logins.push({ sessionId, expiresAt: parsed.expiresAt });
    }
    return logins;
  }

  #userKey(userId: string): string {
    return `${this.#prefix}u:{${userId}}`;
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
    userKey: string,
    args: Array<string | number>,
    options: WriteOptions,
  ): Promise<DurableReply> {
    return this.#run(() => this.#durable.run(script, [userKey], args, options.durable === true));
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
