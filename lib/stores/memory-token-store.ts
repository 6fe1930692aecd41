/**
 * Token records and markers in process memory, for development and tests: records vanish on restart
 * and are not shared between processes. TTLs, the per-user bound and markers behave as on Redis.
 */
import { checkOptionNames, configError } from '../config';
import {
  OFFLINE_SESSION_ID,
  checkId,
  checkLoginKey,
  checkMarker,
  checkMaxLogins,
  checkSealed,
  checkTtlMs,
  checkTtlSeconds,
  type LoginKey,
  type MarkerStore,
  type StoredLogin,
  type TokenStore,
} from './contracts';

/** Options of {@link MemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /** Clock in epoch ms, for tests. Default `Date.now`. */
  now?: () => number;
  /** Logins kept per user; the oldest are dropped beyond it. Default 50. */
  maxLoginsPerUser?: number;
}

interface Entry {
  value: string;
  expiresAt: number;
}

const WHAT = 'MemoryTokenStore';

/**
 * A {@link TokenStore} with {@link MarkerStore} markers, in memory. Development and tests only.
 *
 * @example
 * ```ts
 * declare const clientID: string;
 * declare const callbackURL: string;
 * const auth = kakaoAuth({ clientID, callbackURL, tokenStore: new MemoryTokenStore() });
 * ```
 */
export class MemoryTokenStore implements TokenStore {
  /** One-time login states, refresh locks and session tombstones, in the same process. */
  readonly markers: MarkerStore;
  readonly #now: () => number;
  readonly #maxLogins: number;
  /** userId → sessionId → record. */
  readonly #users = new Map<string, Map<string, Entry>>();

  /** @throws TypeError (`ERR_INVALID_ARG_VALUE`) for an invalid option. */
  constructor(options: MemoryTokenStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw configError(`${WHAT}: options must be an object like { now: () => Date.now() }.`);
    }
    checkOptionNames(WHAT, options, ['now', 'maxLoginsPerUser']);
    const { now = Date.now } = options;
    if (typeof now !== 'function') throw configError(`${WHAT}: "now" must be a function returning epoch ms.`);
    this.#now = now;
    this.#maxLogins = checkMaxLogins(options.maxLoginsPerUser, WHAT);
    this.markers = new MemoryMarkers(now);
  }

  async get(key: LoginKey): Promise<string | undefined> {
    const { userId, sessionId } = checkLoginKey(key, 'get');
    return this.#live(userId).get(sessionId)?.value;
  }

  async set(key: LoginKey, sealed: string, ttlSeconds: number): Promise<string[]> {
    const { userId, sessionId } = checkLoginKey(key, 'set');
    checkSealed(sealed, 'set', 'sealed');
    checkTtlSeconds(ttlSeconds, 'set');
    const logins = this.#live(userId);
    logins.set(sessionId, { value: sealed, expiresAt: this.#now() + ttlSeconds * 1000 });
    this.#users.set(userId, logins);
    const others = [...logins]
      .filter(([id]) => id !== sessionId && id !== OFFLINE_SESSION_ID)
      .sort(([, a], [, b]) => a.expiresAt - b.expiresAt);
    const dropped = others.slice(0, Math.max(0, others.length - (this.#maxLogins - 1))).map(([id]) => id);
    for (const id of dropped) logins.delete(id);
    return dropped;
  }

  async compareAndSet(key: LoginKey, expected: string, sealed: string, ttlSeconds: number): Promise<boolean> {
    const { userId, sessionId } = checkLoginKey(key, 'compareAndSet');
    checkSealed(expected, 'compareAndSet', 'expected');
    checkSealed(sealed, 'compareAndSet', 'sealed');
    checkTtlSeconds(ttlSeconds, 'compareAndSet');
    const logins = this.#live(userId);
    if (logins.get(sessionId)?.value !== expected) return false;
    logins.set(sessionId, { value: sealed, expiresAt: this.#now() + ttlSeconds * 1000 });
    return true;
  }

  async delete(key: LoginKey): Promise<void> {
    const { userId, sessionId } = checkLoginKey(key, 'delete');
    this.#users.get(userId)?.delete(sessionId);
  }

  async listLogins(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'listLogins', 'userId');
    return [...this.#live(userId)].map(([sessionId, entry]) => ({ sessionId, expiresAt: entry.expiresAt }));
  }

  async deleteUser(userId: string): Promise<StoredLogin[]> {
    const logins = await this.listLogins(userId);
    this.#users.delete(userId);
    return logins;
  }

  /** The user's unexpired logins (expired ones are dropped on the way). */
  #live(userId: string): Map<string, Entry> {
    const logins = this.#users.get(userId) ?? new Map<string, Entry>();
    const now = this.#now();
    for (const [id, entry] of logins) if (entry.expiresAt <= now) logins.delete(id);
    if (logins.size === 0) this.#users.delete(userId);
    return logins;
  }
}

/** Markers in process memory (also the fallback when a custom token store offers none). */
export class MemoryMarkers implements MarkerStore {
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #writes = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async add(name: string, value: string, ttlMs: number): Promise<boolean> {
    checkMarker(name, 'add');
    checkSealed(value, 'add', 'value');
    checkTtlMs(ttlMs, 'add');
    // Sweep expired markers now and then, so memory follows the live ones.
    if (++this.#writes % 1000 === 0) for (const key of this.#entries.keys()) this.#get(key);
    if (this.#get(name) !== undefined) return false;
    this.#entries.set(name, { value, expiresAt: this.#now() + ttlMs });
    return true;
  }

  async has(name: string): Promise<boolean> {
    return this.#get(checkMarker(name, 'has')) !== undefined;
  }

  async deleteIf(name: string, value: string): Promise<boolean> {
    checkSealed(value, 'deleteIf', 'value');
    if (this.#get(checkMarker(name, 'deleteIf'))?.value !== value) return false;
    this.#entries.delete(name);
    return true;
  }

  #get(name: string): Entry | undefined {
    const entry = this.#entries.get(name);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry;
  }
}
