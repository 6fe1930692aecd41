/**
 * Token records and markers on Redis, through the client adapter (ioredis or node-redis, single,
 * Sentinel or Cluster).
 *
 * Layout: one string per user, `<prefix>u:{<userId>}`, with one line per login:
 * `<session id> <expiry, epoch seconds in base 36>|<sealed record>`. A string rather than a hash: a
 * sealed record (about 230 bytes) is longer than Redis's default `hash-max-listpack-value` (64), so a
 * hash would be a hashtable, about 100 bytes more per user. Expired logins are pruned by every write
 * (scripts), and the key expires with its latest login. Markers are plain keys `<prefix><name>` (their names carry the user's hash tag where they
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

// Shared by the scripts: a user's logins are the lines `<session id> <expiry>|<sealed>` of one string
// (expiry in base-36 epoch seconds); `logins` reads the live ones, `save` writes them back with the
// latest expiry as the key's TTL (or deletes the key when none is left).
const LOGINS = `
local function expiry(v) return tonumber(string.match(v, '^(%w+)|'), 36) end
local function logins(key, now)
  local list, v = {}, redis.call('GET', key)
  if v then
    for line in string.gmatch(v, '[^\\n]+') do
      local sp = string.find(line, ' ', 1, true)
      local exp = sp and expiry(string.sub(line, sp + 1))
      if exp and exp > now then list[#list + 1] = { string.sub(line, 1, sp - 1), string.sub(line, sp + 1), exp } end
    end
  end
  return list
end
local function save(key, list, now)
  local lines, latest = {}, 0
  for i, e in ipairs(list) do
    lines[i] = e[1] .. ' ' .. e[2]
    if e[3] > latest then latest = e[3] end
  end
  if #lines == 0 then redis.call('DEL', key) else redis.call('SET', key, table.concat(lines, '\\n'), 'EX', latest - now) end
end`;

// KEYS[1] user key. ARGV: session id, value, now (s), max logins, session id never dropped (offline).
// Returns the session ids dropped beyond the bound (the logins that expire first).
const SET = new RedisScript(`${LOGINS}
local key, now, field = KEYS[1], tonumber(ARGV[3]), ARGV[1]
local kept, others = {}, {}
for _, e in ipairs(logins(key, now)) do
  if e[1] ~= field then
    kept[#kept + 1] = e
    if e[1] ~= ARGV[5] then others[#others + 1] = e end
  end
end
local dropped, keep = {}, tonumber(ARGV[4]) - 1
if #others > keep then
  table.sort(others, function(a, b) return a[3] < b[3] end)
  local gone = {}
  for i = 1, #others - keep do
    gone[others[i][1]] = true
    dropped[#dropped + 1] = others[i][1]
  end
  local rest = {}
  for _, e in ipairs(kept) do if not gone[e[1]] then rest[#rest + 1] = e end end
  kept = rest
end
kept[#kept + 1] = { field, ARGV[2], expiry(ARGV[2]) }
save(key, kept, now)
return dropped`);

// KEYS[1] user key. ARGV: session id, expected sealed record, new value, now (s). Like SET, it prunes
// the expired logins and sets the key's TTL to the latest expiry (which a shorter new value can lower).
const CAS = new RedisScript(`${LOGINS}
local key, now, field = KEYS[1], tonumber(ARGV[4]), ARGV[1]
local list, found = logins(key, now), false
for _, e in ipairs(list) do
  if e[1] == field then
    if string.sub(e[2], string.find(e[2], '|', 1, true) + 1) ~= ARGV[2] then return 0 end
    e[2], e[3], found = ARGV[3], expiry(ARGV[3]), true
  end
end
if not found then return 0 end
save(key, list, now)
return 1`);

// KEYS[1] user key. ARGV: session id, now (s). The login's value, or false.
const GET_LOGIN = new RedisScript(`${LOGINS}
for _, e in ipairs(logins(KEYS[1], tonumber(ARGV[2]))) do
  if e[1] == ARGV[1] then return e[2] end
end
return false`);

// KEYS[1] user key. ARGV: session id, now (s).
const DELETE_LOGIN = new RedisScript(`${LOGINS}
local now, rest = tonumber(ARGV[2]), {}
for _, e in ipairs(logins(KEYS[1], now)) do
  if e[1] ~= ARGV[1] then rest[#rest + 1] = e end
end
save(KEYS[1], rest, now)
return #rest`);

const DELETE_USER = new RedisScript(`
local v = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
return v`);

const DELETE_IF = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

/**
 * A value as it sits in its line of the user's key: backslashes and newlines escaped (a cipher envelope
 * has neither, so it is stored as it is). The scripts compare escaped values and never unescape.
 */
function escapeLine(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function unescapeLine(text: string): string {
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The `[session id, value]` pairs of a user key's text. */
function loginLines(text: unknown): Array<[string, string]> {
  if (typeof text !== 'string') return [];
  return text.split('\n').flatMap((line): Array<[string, string]> => {
    const space = line.indexOf(' ');
    return space > 0 ? [[line.slice(0, space), line.slice(space + 1)]] : [];
  });
}

function parseValue(value: string): { expiresAt: number; sealed: string } | undefined {
  const sep = value.indexOf('|');
  const expiresAt = sep > 0 ? parseInt(value.slice(0, sep), 36) * 1000 : NaN;
  return Number.isFinite(expiresAt) ? { expiresAt, sealed: unescapeLine(value.slice(sep + 1)) } : undefined;
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
      this.#redis.script(GET_LOGIN, [this.#userKey(userId)], [sessionId, this.#seconds()]),
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
    const value = `${this.#expiry(ttlSeconds)}|${escapeLine(sealed)}`;
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
    const value = `${this.#expiry(ttlSeconds)}|${escapeLine(sealed)}`;
    const { reply, confirmed } = await this.#write(
      CAS,
      this.#userKey(userId),
      [sessionId, escapeLine(expected), value, now],
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
    await this.#run(() => this.#redis.script(DELETE_LOGIN, [userKey], [sessionId, this.#seconds()]));
  }

  async listLogins(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'listLogins', 'userId');
    const userKey = this.#userKey(userId);
    return this.#logins(await this.#run(() => this.#redis.command(['GET', userKey], userKey)));
  }

  async deleteUser(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'deleteUser', 'userId');
    const userKey = this.#userKey(userId);
    return this.#logins(await this.#run(() => this.#redis.script(DELETE_USER, [userKey], [])));
  }

  /** The live logins in a user key's text. */
  #logins(text: unknown): StoredLogin[] {
    const now = this.#now();
    const logins: StoredLogin[] = [];
    for (const [sessionId, value] of loginLines(text)) {
      const parsed = parseValue(value);
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
