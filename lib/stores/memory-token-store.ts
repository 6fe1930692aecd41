/**
 * Token records and markers in process memory, for development and tests: records vanish on restart
 * and are not shared between processes. TTLs, the per-user bound and markers behave as on Redis.
 */
import { checkOptionNames, configError } from '../config';
import {
  OFFLINE_SESSION_ID,
  checkId,
  checkLoginKey,
  checkRecordWrite,
  checkMarker,
  checkMaxLogins,
  checkSealed,
  checkTtlMs,
  type LoginKey,
  type MarkerStore,
  type RecordWriteOptions,
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

/** A login's record, and how long the login stays listed after it (when it outlives the record). */
interface Login extends Entry {
  listedUntil: number;
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
  readonly #users = new Map<string, Map<string, Login>>();

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
    return this.#record(userId, sessionId)?.value;
  }

  async set(
    key: LoginKey,
    sealed: string,
    ttlSeconds: number,
    options: RecordWriteOptions = {},
  ): Promise<string[]> {
    const { userId, sessionId, loginTtl } = checkRecordWrite('set', { key, sealed, ttlSeconds, options });
    const login = this.#login(sealed, ttlSeconds, loginTtl);
    const logins = this.#live(userId);
    logins.set(sessionId, login);
    this.#users.set(userId, logins);
    // As on Redis: the oldest records beyond the bound go, then the oldest of the logins that outlived
    // their records, beyond what the bound leaves.
    const now = this.#now();
    const dropped: string[] = [];
    let keep = this.#maxLogins - 1;
    for (const withRecord of [true, false]) {
      const others = [...logins]
        .filter(
          ([id, l]) => id !== sessionId && id !== OFFLINE_SESSION_ID && l.expiresAt > now === withRecord,
        )
        .sort(([, a], [, b]) => (withRecord ? a.expiresAt - b.expiresAt : a.listedUntil - b.listedUntil));
      const cut = Math.max(0, others.length - keep);
      dropped.push(...others.slice(0, cut).map(([id]) => id));
      keep -= others.length - cut;
    }
    for (const id of dropped) logins.delete(id);
    return dropped;
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
    if (this.#record(userId, sessionId)?.value !== expected) return false;
    this.#live(userId).set(sessionId, this.#login(sealed, ttlSeconds, loginTtl));
    return true;
  }

  async delete(key: LoginKey): Promise<void> {
    const { userId, sessionId } = checkLoginKey(key, 'delete');
    this.#users.get(userId)?.delete(sessionId);
  }

  async listLogins(userId: string): Promise<StoredLogin[]> {
    checkId(userId, 'listLogins', 'userId');
    return [...this.#live(userId)].map(([sessionId, l]) => ({ sessionId, expiresAt: l.listedUntil }));
  }

  async deleteUser(userId: string): Promise<StoredLogin[]> {
    const logins = await this.listLogins(userId);
    this.#users.delete(userId);
    return logins;
  }

  #login(value: string, ttlSeconds: number, loginTtlSeconds: number | undefined): Login {
    const now = this.#now();
    const expiresAt = now + ttlSeconds * 1000;
    return { value, expiresAt, listedUntil: loginTtlSeconds ? now + loginTtlSeconds * 1000 : expiresAt };
  }

  /** A login's unexpired record. */
  #record(userId: string, sessionId: string): Login | undefined {
    const login = this.#live(userId).get(sessionId);
    return login && login.expiresAt > this.#now() ? login : undefined;
  }

  /** The user's listed logins (those that ended are dropped on the way). */
  #live(userId: string): Map<string, Login> {
    const logins = this.#users.get(userId) ?? new Map<string, Login>();
    const now = this.#now();
    for (const [id, login] of logins) if (login.listedUntil <= now) logins.delete(id);
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
