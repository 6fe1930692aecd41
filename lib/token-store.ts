/**
 * Where sealed token sets live: one record per login (user id + session id), with a TTL, plus the
 * locks that keep refreshes single-flight across processes. A store only ever holds strings sealed by
 * the token cipher; it never sees a plaintext token.
 */

import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { checkOptionNames, configError } from './config';
import { TokenStoreError } from './errors';

/** Identifies one token record: token sets belong to a login (a session), not just to a user. */
export interface TokenRecordKey {
  /** The application's user id: 1–128 characters, no `{`, `}`, whitespace or control characters. */
  userId: string;
  /** The login the tokens were issued for: same rules as `userId`. */
  sessionId: string;
}

/** Storage for sealed token records and refresh locks. */
export interface TokenStore {
  /**
   * The sealed record, or `undefined` when there is none (never stored, deleted or expired).
   * @throws TokenStoreError when the backend fails.
   */
  get(key: TokenRecordKey): Promise<string | undefined>;
  /**
   * Stores `sealed`, replacing any previous record, for `ttlSeconds` (Kakao's `refresh_token_expires_in`).
   * @throws TypeError for an invalid key, an empty value or a TTL that is not a positive integer.
   * @throws TokenStoreError when the backend fails.
   */
  set(key: TokenRecordKey, sealed: string, ttlSeconds: number): Promise<void>;
  /**
   * Atomically replaces the record only if it currently equals `expected`; false (and no write) otherwise,
   * including when there is no record.
   * @throws TypeError for invalid arguments, as for {@link TokenStore.set}.
   * @throws TokenStoreError when the backend fails.
   */
  compareAndSet(key: TokenRecordKey, expected: string, sealed: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Deletes one record (absent records are fine).
   * @throws TokenStoreError when the backend fails.
   */
  delete(key: TokenRecordKey): Promise<void>;
  /**
   * Deletes every record of the user, across all sessions (logout everywhere, unlink), and returns how
   * many there were.
   * @throws TokenStoreError when the backend fails.
   */
  deleteUser(userId: string): Promise<number>;
  /**
   * The keys of the user's live records, in no particular order.
   * @throws TokenStoreError when the backend fails.
   */
  listUserRecords?(userId: string): Promise<TokenRecordKey[]>;
  /**
   * Takes the lock `name` for `ttlMs` milliseconds; returns the token needed to release it, or
   * `undefined` when someone else holds it. `userId`, when given, scopes the lock to that user (on
   * Redis it then lives in the user's hash slot, next to the user's records).
   * @throws TokenStoreError when the backend fails.
   */
  acquireLock(name: string, ttlMs: number, userId?: string): Promise<string | undefined>;
  /**
   * Releases the lock if `token` still owns it (it has not expired and been taken by someone else).
   * Pass the same `userId` as to {@link TokenStore.acquireLock}.
   * @throws TokenStoreError when the backend fails.
   */
  releaseLock(name: string, token: string, userId?: string): Promise<boolean>;
  /**
   * Records that a session was ended (logout, unlink), for `ttlSeconds`, so that a request still
   * holding the old session cannot write it back (R67).
   * @throws TokenStoreError when the backend fails.
   */
  markSessionEnded(sessionId: string, ttlSeconds: number): Promise<void>;
  /** Whether {@link TokenStore.markSessionEnded} was called for the session and has not expired. */
  isSessionEnded(sessionId: string): Promise<boolean>;
}

/** Options of {@link RedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /** An ioredis client or Cluster, owned by the caller (the store neither connects nor quits it). */
  client: Redis | Cluster;
  /** Prepended to every key; must not contain `{`, `}` or whitespace. Default `'kakao:'`. */
  prefix?: string;
}

const ID_RULES = '1–128 characters without "{", "}", whitespace or control characters';
const ID_PATTERN = /^[^{}\s\p{Cc}]{1,128}$/u;

// Every script names its keys in KEYS, all hashed on `{userId}` (or `{lockName}`), so each one runs
// against a single Cluster slot. A user's record keys are `KEYS[2] .. sessionId`: KEYS[2] is the
// record-key prefix, passed as a key so ioredis applies the client's own keyPrefix to it too.
const SET_LUA = `
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local ttl = tonumber(ARGV[2])
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
return 1`;

const CAS_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
local ttl = tonumber(ARGV[3])
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
return 1`;

const DELETE_LUA = `
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1`;

const DELETE_USER_LUA = `
local ids = redis.call('SMEMBERS', KEYS[1])
local n = 0
for _, id in ipairs(ids) do n = n + redis.call('DEL', KEYS[2] .. id) end
redis.call('DEL', KEYS[1])
return n`;

// Index entries can outlive their records (records expire on their own): drop those while listing.
const LIST_LUA = `
local ids = redis.call('SMEMBERS', KEYS[1])
local live = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', KEYS[2] .. id) == 1 then live[#live + 1] = id else redis.call('SREM', KEYS[1], id) end
end
return live`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The client once our scripts are defined on it (defineCommand sends EVALSHA, falling back to EVAL). */
interface ScriptedClient {
  kakaoTokenStoreSet(
    record: string,
    index: string,
    sealed: string,
    ttl: number,
    sessionId: string,
  ): Promise<number>;
  kakaoTokenStoreCas(
    record: string,
    index: string,
    expected: string,
    sealed: string,
    ttl: number,
    sessionId: string,
  ): Promise<number>;
  kakaoTokenStoreDelete(record: string, index: string, sessionId: string): Promise<number>;
  kakaoTokenStoreDeleteUser(index: string, recordPrefix: string): Promise<number>;
  kakaoTokenStoreList(index: string, recordPrefix: string): Promise<string[]>;
  kakaoTokenStoreRelease(lock: string, token: string): Promise<number>;
}

/**
 * A {@link TokenStore} on Redis (ioredis `Redis` or `Cluster`).
 *
 * Layout: record `<prefix>tok:{<userId>}:<sessionId>` (a string with the record's TTL), per-user index
 * `<prefix>idx:{<userId>}` (a set of session ids, living as long as the longest record), lock
 * `<prefix>lock:{<name>}`. The `{…}` hash tags keep all keys of one user in one Cluster slot, and every
 * write is a single Lua script, so each operation is one atomic round trip.
 *
 * Configure the client to fail fast (`enableOfflineQueue: false`, `maxRetriesPerRequest: 1`,
 * `commandTimeout`) so that an outage surfaces as a `TokenStoreError` instead of a hanging request.
 *
 * @example
 * ```ts
 * const store = new RedisTokenStore({ client: new Redis(process.env.REDIS_URL!), prefix: 'myapp:kakao:' });
 * ```
 */
export class RedisTokenStore implements TokenStore {
  readonly #client: Redis | Cluster;
  readonly #scripts: ScriptedClient;
  readonly #prefix: string;

  /**
   * @param options.client - The caller's ioredis client; the store defines its Lua commands on it.
   * @param options.prefix - Key prefix, default `'kakao:'`.
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when the client is not an ioredis client or the prefix is invalid.
   */
  constructor(options: RedisTokenStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw configError('RedisTokenStore: options must be an object like { client: new Redis(url) }.');
    }
    checkOptionNames('RedisTokenStore', options, ['client', 'prefix']);
    const { client, prefix = 'kakao:' } = options;
    if (typeof client !== 'object' || client === null || typeof client.defineCommand !== 'function') {
      throw configError(
        'RedisTokenStore: "client" must be an ioredis Redis or Cluster instance (new Redis(url)).',
      );
    }
    if (typeof prefix !== 'string' || !/^[^{}\s\p{Cc}]*$/u.test(prefix)) {
      throw configError(
        'RedisTokenStore: "prefix" must be a string without "{", "}" or whitespace (braces would break the Cluster hash tags), such as "myapp:kakao:".',
      );
    }
    client.defineCommand('kakaoTokenStoreSet', { numberOfKeys: 2, lua: SET_LUA });
    client.defineCommand('kakaoTokenStoreCas', { numberOfKeys: 2, lua: CAS_LUA });
    client.defineCommand('kakaoTokenStoreDelete', { numberOfKeys: 2, lua: DELETE_LUA });
    client.defineCommand('kakaoTokenStoreDeleteUser', { numberOfKeys: 2, lua: DELETE_USER_LUA });
    client.defineCommand('kakaoTokenStoreList', { numberOfKeys: 2, lua: LIST_LUA });
    client.defineCommand('kakaoTokenStoreRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.#client = client;
    this.#scripts = client as unknown as ScriptedClient;
    this.#prefix = prefix;
  }

  async get(key: TokenRecordKey): Promise<string | undefined> {
    const { userId, sessionId } = checkRecordKey(key, 'get');
    const value = await this.#run(() => this.#client.get(this.#recordKey(userId, sessionId)));
    return value ?? undefined;
  }

  async set(key: TokenRecordKey, sealed: string, ttlSeconds: number): Promise<void> {
    const { userId, sessionId } = checkRecordKey(key, 'set');
    checkSealed(sealed, 'set', 'sealed');
    checkTtl(ttlSeconds, 'set');
    await this.#run(() =>
      this.#scripts.kakaoTokenStoreSet(
        this.#recordKey(userId, sessionId),
        this.#indexKey(userId),
        sealed,
        ttlSeconds,
        sessionId,
      ),
    );
  }

  async compareAndSet(
    key: TokenRecordKey,
    expected: string,
    sealed: string,
    ttlSeconds: number,
  ): Promise<boolean> {
    const { userId, sessionId } = checkRecordKey(key, 'compareAndSet');
    checkSealed(expected, 'compareAndSet', 'expected');
    checkSealed(sealed, 'compareAndSet', 'sealed');
    checkTtl(ttlSeconds, 'compareAndSet');
    const written = await this.#run(() =>
      this.#scripts.kakaoTokenStoreCas(
        this.#recordKey(userId, sessionId),
        this.#indexKey(userId),
        expected,
        sealed,
        ttlSeconds,
        sessionId,
      ),
    );
    return written === 1;
  }

  async delete(key: TokenRecordKey): Promise<void> {
    const { userId, sessionId } = checkRecordKey(key, 'delete');
    await this.#run(() =>
      this.#scripts.kakaoTokenStoreDelete(
        this.#recordKey(userId, sessionId),
        this.#indexKey(userId),
        sessionId,
      ),
    );
  }

  async deleteUser(userId: string): Promise<number> {
    checkId(userId, 'deleteUser', 'userId');
    return this.#run(() =>
      this.#scripts.kakaoTokenStoreDeleteUser(this.#indexKey(userId), this.#recordKey(userId, '')),
    );
  }

  async listUserRecords(userId: string): Promise<TokenRecordKey[]> {
    checkId(userId, 'listUserRecords', 'userId');
    const ids = await this.#run(() =>
      this.#scripts.kakaoTokenStoreList(this.#indexKey(userId), this.#recordKey(userId, '')),
    );
    return ids.map((sessionId) => ({ userId, sessionId }));
  }

  async markSessionEnded(sessionId: string, ttlSeconds: number): Promise<void> {
    checkId(sessionId, 'markSessionEnded', 'sessionId');
    checkTtl(ttlSeconds, 'markSessionEnded');
    await this.#run(() => this.#client.set(`${this.#prefix}ended:${sessionId}`, '1', 'EX', ttlSeconds));
  }

  async isSessionEnded(sessionId: string): Promise<boolean> {
    checkId(sessionId, 'isSessionEnded', 'sessionId');
    return (await this.#run(() => this.#client.exists(`${this.#prefix}ended:${sessionId}`))) === 1;
  }

  async acquireLock(name: string, ttlMs: number, userId?: string): Promise<string | undefined> {
    checkId(name, 'acquireLock', 'name');
    if (userId !== undefined) checkId(userId, 'acquireLock', 'userId');
    checkLockTtl(ttlMs);
    const token = randomBytes(16).toString('base64url');
    const reply = await this.#run(() =>
      this.#client.set(this.#lockKey(name, userId), token, 'PX', ttlMs, 'NX'),
    );
    return reply === 'OK' ? token : undefined;
  }

  async releaseLock(name: string, token: string, userId?: string): Promise<boolean> {
    checkId(name, 'releaseLock', 'name');
    if (userId !== undefined) checkId(userId, 'releaseLock', 'userId');
    checkSealed(token, 'releaseLock', 'token');
    const deleted = await this.#run(() =>
      this.#scripts.kakaoTokenStoreRelease(this.#lockKey(name, userId), token),
    );
    return deleted === 1;
  }

  #recordKey(userId: string, sessionId: string): string {
    return `${this.#prefix}tok:{${userId}}:${sessionId}`;
  }

  #indexKey(userId: string): string {
    return `${this.#prefix}idx:{${userId}}`;
  }

  /** `<prefix>lock:{<userId>}:<name>` shares the user's slot; without a user, `<prefix>lock:{<name>}`. */
  #lockKey(name: string, userId: string | undefined): string {
    return userId === undefined ? `${this.#prefix}lock:{${name}}` : `${this.#prefix}lock:{${userId}}:${name}`;
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw storeError(error);
    }
  }
}

/** Options of {@link MemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /** Clock in epoch milliseconds, for tests. Default `Date.now`. */
  now?: () => number;
}

interface MemoryEntry {
  value: string;
  expiresAt: number;
}

/**
 * A {@link TokenStore} in process memory, for development and tests only: records vanish on restart
 * and are not shared between processes. It honours TTLs and locks like {@link RedisTokenStore}.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #now: () => number;
  /** userId → sessionId → record. */
  readonly #records = new Map<string, Map<string, MemoryEntry>>();
  readonly #locks = new Map<string, MemoryEntry>();
  readonly #ended = new Map<string, MemoryEntry>();

  /**
   * @param options.now - Clock in epoch milliseconds; default `Date.now`.
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `now` is not a function.
   */
  constructor(options: MemoryTokenStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw configError('MemoryTokenStore: options must be an object like { now: () => Date.now() }.');
    }
    checkOptionNames('MemoryTokenStore', options, ['now']);
    const { now = Date.now } = options;
    if (typeof now !== 'function') {
      throw configError('MemoryTokenStore: "now" must be a function returning epoch milliseconds.');
    }
    this.#now = now;
  }

  async get(key: TokenRecordKey): Promise<string | undefined> {
    const { userId, sessionId } = checkRecordKey(key, 'get');
    return this.#live(userId, sessionId)?.value;
  }

  async set(key: TokenRecordKey, sealed: string, ttlSeconds: number): Promise<void> {
    const { userId, sessionId } = checkRecordKey(key, 'set');
    checkSealed(sealed, 'set', 'sealed');
    checkTtl(ttlSeconds, 'set');
    this.#write(userId, sessionId, sealed, ttlSeconds);
  }

  async compareAndSet(
    key: TokenRecordKey,
    expected: string,
    sealed: string,
    ttlSeconds: number,
  ): Promise<boolean> {
    const { userId, sessionId } = checkRecordKey(key, 'compareAndSet');
    checkSealed(expected, 'compareAndSet', 'expected');
    checkSealed(sealed, 'compareAndSet', 'sealed');
    checkTtl(ttlSeconds, 'compareAndSet');
    if (this.#live(userId, sessionId)?.value !== expected) return false;
    this.#write(userId, sessionId, sealed, ttlSeconds);
    return true;
  }

  async delete(key: TokenRecordKey): Promise<void> {
    const { userId, sessionId } = checkRecordKey(key, 'delete');
    const sessions = this.#records.get(userId);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) this.#records.delete(userId);
  }

  async deleteUser(userId: string): Promise<number> {
    checkId(userId, 'deleteUser', 'userId');
    const count = this.#liveSessions(userId).length;
    this.#records.delete(userId);
    return count;
  }

  async listUserRecords(userId: string): Promise<TokenRecordKey[]> {
    checkId(userId, 'listUserRecords', 'userId');
    return this.#liveSessions(userId).map((sessionId) => ({ userId, sessionId }));
  }

  async markSessionEnded(sessionId: string, ttlSeconds: number): Promise<void> {
    checkId(sessionId, 'markSessionEnded', 'sessionId');
    checkTtl(ttlSeconds, 'markSessionEnded');
    for (const [id, entry] of this.#ended) if (entry.expiresAt <= this.#now()) this.#ended.delete(id);
    this.#ended.set(sessionId, { value: '1', expiresAt: this.#now() + ttlSeconds * 1000 });
  }

  async isSessionEnded(sessionId: string): Promise<boolean> {
    checkId(sessionId, 'isSessionEnded', 'sessionId');
    const entry = this.#ended.get(sessionId);
    return entry !== undefined && entry.expiresAt > this.#now();
  }

  async acquireLock(name: string, ttlMs: number, userId?: string): Promise<string | undefined> {
    checkId(name, 'acquireLock', 'name');
    if (userId !== undefined) checkId(userId, 'acquireLock', 'userId');
    checkLockTtl(ttlMs);
    const id = lockId(name, userId);
    const held = this.#locks.get(id);
    if (held !== undefined && held.expiresAt > this.#now()) return undefined;
    const token = randomBytes(16).toString('base64url');
    this.#locks.set(id, { value: token, expiresAt: this.#now() + ttlMs });
    return token;
  }

  async releaseLock(name: string, token: string, userId?: string): Promise<boolean> {
    checkId(name, 'releaseLock', 'name');
    if (userId !== undefined) checkId(userId, 'releaseLock', 'userId');
    checkSealed(token, 'releaseLock', 'token');
    const id = lockId(name, userId);
    const held = this.#locks.get(id);
    if (held === undefined || held.expiresAt <= this.#now()) {
      this.#locks.delete(id);
      return false;
    }
    if (held.value !== token) return false;
    this.#locks.delete(id);
    return true;
  }

  #write(userId: string, sessionId: string, value: string, ttlSeconds: number): void {
    let sessions = this.#records.get(userId);
    if (sessions === undefined) {
      sessions = new Map();
      this.#records.set(userId, sessions);
    }
    sessions.set(sessionId, { value, expiresAt: this.#now() + ttlSeconds * 1000 });
  }

  #live(userId: string, sessionId: string): MemoryEntry | undefined {
    const sessions = this.#records.get(userId);
    const entry = sessions?.get(sessionId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#now()) return entry;
    sessions?.delete(sessionId);
    return undefined;
  }

  #liveSessions(userId: string): string[] {
    const ids = [...(this.#records.get(userId)?.keys() ?? [])];
    return ids.filter((sessionId) => this.#live(userId, sessionId) !== undefined);
  }
}

/** Ids cannot contain control characters, so NUL separates the user from the name unambiguously. */
function lockId(name: string, userId: string | undefined): string {
  return `${userId ?? ''}\u0000${name}`;
}

function checkId(value: unknown, operation: string, name: string): void {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    // The value itself is not echoed: a session id is a credential.
    const got = typeof value === 'string' ? `a string of ${value.length} characters` : typeof value;
    throw configError(`TokenStore.${operation}: "${name}" must be ${ID_RULES} (got ${got}).`);
  }
}

function checkRecordKey(key: TokenRecordKey, operation: string): TokenRecordKey {
  if (typeof key !== 'object' || key === null) {
    throw configError(`TokenStore.${operation}: the key must be an object { userId, sessionId }.`);
  }
  checkId(key.userId, operation, 'userId');
  checkId(key.sessionId, operation, 'sessionId');
  return { userId: key.userId, sessionId: key.sessionId };
}

function checkSealed(value: unknown, operation: string, name: string): void {
  if (typeof value !== 'string' || value === '') {
    throw configError(`TokenStore.${operation}: "${name}" must be a non-empty string (got ${typeof value}).`);
  }
}

function checkTtl(ttlSeconds: unknown, operation: string): void {
  if (typeof ttlSeconds !== 'number' || !Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw configError(
      `TokenStore.${operation}: "ttlSeconds" must be a positive integer number of seconds, usually Kakao's refresh_token_expires_in (got ${String(ttlSeconds)}).`,
    );
  }
}

function checkLockTtl(ttlMs: unknown): void {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw configError(
      `TokenStore.acquireLock: "ttlMs" must be a positive integer number of milliseconds, such as 10000 (got ${String(ttlMs)}).`,
    );
  }
}

/**
 * ioredis attaches the failed command with its arguments (`error.command.args`) to reply errors; those
 * arguments are sealed records and lock tokens, so they are removed before the error becomes a cause.
 */
function storeError(error: unknown): TokenStoreError {
  if (typeof error === 'object' && error !== null && 'command' in error) {
    const command = (error as { command?: { name?: unknown } }).command;
    (error as { command?: unknown }).command = { name: command?.name };
  }
  return new TokenStoreError('Token store unavailable', { cause: error });
}
