/**
 * What the library needs from storage, in two small contracts:
 *
 * - {@link TokenStore} keeps the sealed token set of each login (a user id plus the session id of
 *   that login). It only ever sees strings sealed by the token cipher, never a plaintext token.
 * - {@link MarkerStore} keeps short-lived markers: one-time login states, refresh locks and the
 *   tombstones of ended sessions. Each marker is a name with a value and a time to live.
 *
 * A custom backend implements what it must: a record store alone works (markers then stay in
 * process memory, which is enough for a single process).
 */
import { configError } from '../config';

/** Identifies one login: token sets belong to a login (a session), not only to a user. */
export interface LoginKey {
  /** The Kakao user id (or the app's user id): 1–128 characters, no `{`, `}`, whitespace or control characters. */
  userId: string;
  /** The session id of the login: same rules as `userId`. */
  sessionId: string;
}

/** One login of a user, as listed by {@link TokenStore.listLogins}. */
export interface StoredLogin {
  sessionId: string;
  /**
   * Epoch ms after which the store forgets the login: its record's expiry, or the login's end when the
   * login outlives its record ({@link RecordWriteOptions.loginTtlSeconds}).
   */
  expiresAt: number;
}

/** Options of a write that must survive a Redis failover. */
export interface WriteOptions {
  /**
   * Wait until at least one replica has the write (Redis `WAIT 1`, bounded). Used for rotated refresh
   * tokens: Kakao has already invalidated the old one, so losing the write would log the user out.
   * A `compareAndSet` that wrote but was not confirmed in time throws `TokenStoreError`: the caller
   * keeps the value and confirms it later with a `compareAndSet` of the value onto itself.
   */
  durable?: boolean;
}

/** Options of a record write ({@link TokenStore.set}, {@link TokenStore.compareAndSet}). */
export interface RecordWriteOptions extends WriteOptions {
  /**
   * How long the login itself lasts, in seconds, when that is longer than its record's `ttlSeconds` (a
   * refresh token that ends before the session). The record still goes after `ttlSeconds` (`get`
   * answers `undefined`), but the store keeps listing the login until then: `listLogins` and
   * `deleteUser` report it, so unlink and the webhook end its session. Not longer is the same as absent.
   * A store that ignores it stays correct except for that one case.
   */
  loginTtlSeconds?: number;
}

/** Storage for sealed token records, one per login, grouped by user. */
export interface TokenStore {
  /**
   * The sealed record of a login, or `undefined` when there is none (never stored, deleted, expired).
   * @throws TokenStoreError when the backend fails.
   */
  get(key: LoginKey): Promise<string | undefined>;
  /**
   * Stores the sealed record of a login for `ttlSeconds`, replacing any previous one (and listing the
   * login until `options.loginTtlSeconds` when that is longer). Ended logins of the user are pruned in
   * the same write, and when the user has more logins than the store keeps (default 50), the oldest
   * are dropped: records by their expiry, then the logins that outlived their records, which get what
   * the records leave of the bound.
   * @returns the session ids of the logins dropped to stay within the bound (their sessions should end).
   * @throws TypeError for an invalid key, an empty value, or a TTL or `loginTtlSeconds` that is not a
   *   positive integer.
   * @throws TokenStoreError when the backend fails.
   */
  set(key: LoginKey, sealed: string, ttlSeconds: number, options?: RecordWriteOptions): Promise<string[]>;
  /**
   * Replaces the record only if it currently equals `expected`; false (and no write) otherwise,
   * also when there is no record. The new TTL and `options.loginTtlSeconds` replace the old ones: left
   * out (or not longer than the TTL), the login is listed only as long as its record.
   * @throws TypeError as for {@link TokenStore.set}.
   * @throws TokenStoreError when the backend fails.
   */
  compareAndSet(
    key: LoginKey,
    expected: string,
    sealed: string,
    ttlSeconds: number,
    options?: RecordWriteOptions,
  ): Promise<boolean>;
  /**
   * Deletes one login's record, and its listing (an absent record is fine).
   * @throws TokenStoreError when the backend fails.
   */
  delete(key: LoginKey): Promise<void>;
  /**
   * The user's live logins (also those whose record ended before the login), in one round trip.
   * @throws TokenStoreError when the backend fails.
   */
  listLogins(userId: string): Promise<StoredLogin[]>;
  /**
   * Deletes every login of the user in one operation and returns the logins that were live.
   * @throws TokenStoreError when the backend fails.
   */
  deleteUser(userId: string): Promise<StoredLogin[]>;
  /**
   * Whether the backend is connected right now, from the client's own state (no round trip). The login
   * start answers 503 instead of sending users to Kakao when it is not. Absent means always ready.
   */
  isReady?(): boolean;
  /** Markers on the same backend (one-time states, locks, tombstones), when it offers them. */
  readonly markers?: MarkerStore;
}

/** Short-lived named markers: one-time login states, refresh locks, tombstones of ended sessions. */
export interface MarkerStore {
  /**
   * Creates `name` with `value` for `ttlMs` milliseconds unless it exists.
   * @returns true when this call created it.
   * @throws TokenStoreError when the backend fails.
   */
  add(name: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * Whether `name` exists.
   * @throws TokenStoreError when the backend fails.
   */
  has(name: string): Promise<boolean>;
  /**
   * Deletes `name` if its value is `value` (releasing a lock only its holder may release). With
   * `durable`, waits for a replica like a durable record write: a release lost in a failover would
   * leave the lock blocking its login until it expires.
   * @returns true when it was deleted.
   * @throws TokenStoreError when the backend fails.
   */
  deleteIf(name: string, value: string, options?: WriteOptions): Promise<boolean>;
  /** As {@link TokenStore.isReady}. */
  isReady?(): boolean;
}

/** The most logins a store keeps per user by default; the oldest are dropped beyond it. */
export const DEFAULT_MAX_LOGINS_PER_USER = 50;

const ID_RULES = '1–128 characters without "{", "}", whitespace or control characters';
const ID_PATTERN = /^[^{}\s\p{Cc}]{1,128}$/u;
// Marker names carry their own hash tag (`e:{<userId>}:<sessionId>`), so braces are allowed here.
const MARKER_PATTERN = /^[^\s\p{Cc}]{1,300}$/u;

/** Checks a user or session id; the value itself is never echoed (a session id is a credential). */
export function checkId(value: unknown, operation: string, name: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    const got = typeof value === 'string' ? `a string of ${value.length} characters` : typeof value;
    throw configError(`TokenStore.${operation}: "${name}" must be ${ID_RULES} (got ${got}).`);
  }
  return value;
}

export function checkLoginKey(key: LoginKey, operation: string): LoginKey {
  if (typeof key !== 'object' || key === null) {
    throw configError(`TokenStore.${operation}: the key must be an object { userId, sessionId }.`);
  }
  return {
    userId: checkId(key.userId, operation, 'userId'),
    sessionId: checkId(key.sessionId, operation, 'sessionId'),
  };
}

export function checkSealed(value: unknown, operation: string, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw configError(`TokenStore.${operation}: "${name}" must be a non-empty string (got ${typeof value}).`);
  }
  return value;
}

export function checkTtlSeconds(ttlSeconds: unknown, operation: string): number {
  if (typeof ttlSeconds !== 'number' || !Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw configError(
      `TokenStore.${operation}: "ttlSeconds" must be a positive integer number of seconds (got ${String(ttlSeconds)}).`,
    );
  }
  return ttlSeconds;
}

/**
 * Checks the arguments of a record write: `set`, or `compareAndSet` with its `expected` value.
 * @returns the login's key, and `loginTtl`: the login's lifetime when it outlasts the TTL (else undefined).
 * @throws TypeError as {@link checkLoginKey}, {@link checkSealed} and {@link checkTtlSeconds} do, and for a
 *   `loginTtlSeconds` that is not a positive integer.
 */
export function checkRecordWrite(
  operation: 'set' | 'compareAndSet',
  write: {
    key: LoginKey;
    expected?: string;
    sealed: string;
    ttlSeconds: number;
    options: RecordWriteOptions | undefined;
  },
): LoginKey & { loginTtl: number | undefined } {
  const key = checkLoginKey(write.key, operation);
  if (operation === 'compareAndSet') checkSealed(write.expected, operation, 'expected');
  checkSealed(write.sealed, operation, 'sealed');
  checkTtlSeconds(write.ttlSeconds, operation);
  return { ...key, loginTtl: checkLoginTtl(write.options, write.ttlSeconds, operation) };
}

/**
 * The login's lifetime in a record write's options, when it outlasts the record's TTL (else undefined).
 * @throws TypeError when it is given and is not a positive integer.
 */
function checkLoginTtl(
  options: RecordWriteOptions | undefined,
  ttlSeconds: number,
  operation: string,
): number | undefined {
  const value = options?.loginTtlSeconds;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw configError(
      `TokenStore.${operation}: "loginTtlSeconds" must be a positive integer number of seconds (got ${String(value)}).`,
    );
  }
  return value > ttlSeconds ? value : undefined;
}

export function checkMarker(name: unknown, operation: string): string {
  if (typeof name !== 'string' || !MARKER_PATTERN.test(name)) {
    throw configError(`MarkerStore.${operation}: "name" must be 1–300 characters without whitespace.`);
  }
  return name;
}

export function checkTtlMs(ttlMs: unknown, operation: string): number {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw configError(
      `MarkerStore.${operation}: "ttlMs" must be a positive integer number of milliseconds (got ${String(ttlMs)}).`,
    );
  }
  return ttlMs;
}

export function checkMaxLogins(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_MAX_LOGINS_PER_USER;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1000) {
    throw configError(
      `${what}: "maxLoginsPerUser" must be an integer from 1 to 1000 (got ${String(value)}).`,
    );
  }
  return value;
}

/** Field name of a user's offline-access token set (never a valid session id: see ID_PATTERN). */
export const OFFLINE_SESSION_ID = '~offline';

/** Marker names. Each is hash-tagged by user where it belongs to a user, so Cluster keeps them in one slot. */
export const markerNames = {
  /** A consumed login `state`, by 128 bits of its digest (one such key per login, for 10 minutes). */
  state: (digest: string) => `st:${digest.slice(0, 22)}`,
  /** The refresh lock of one login. */
  refreshLock: (key: LoginKey) => `l:{${key.userId}}:${key.sessionId}`,
  /** The tombstone of an ended session. */
  endedSession: (key: LoginKey) => `e:{${key.userId}}:${key.sessionId}`,
} as const;
