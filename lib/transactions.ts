import { createPkcePair, randomToken, safeEqual } from './pkce';

/**
 * One pending login: created when the login starts, consumed (exactly once) by the callback.
 * The verifier and nonce never leave the server; only `state` and the PKCE challenge are sent to Kakao.
 */
export interface LoginTransaction {
  /** The `state` sent to Kakao: 43 characters of base64url, 256 bits of CSPRNG output. */
  state: string;
  /** PKCE `code_verifier` (43 characters of base64url). Never logged, never sent to the browser. */
  verifier: string;
  /** Where to go after a successful login: a path already passed through `sanitizeReturnTo`. */
  returnTo: string;
  /** Creation time in milliseconds since the epoch (the caller's clock). */
  createdAt: number;
  /** OIDC `nonce`, present when the login requested an ID token. */
  nonce?: string;
}

/**
 * The login transactions of one session, keyed by `state`. Plain JSON so any session store can keep it;
 * short field names keep the session small in Redis: `v` verifier, `r` returnTo, `t` createdAt, `n` nonce.
 */
export type TransactionBag = Record<string, { v: string; r: string; t: number; n?: string }>;

/** Bounds of a {@link TransactionBag}. */
export interface TransactionLimits {
  /** Most transactions kept per session; the oldest is evicted first. Integer from 1 to 64. Default: 5. */
  maxTransactions: number;
  /** Lifetime of a transaction in milliseconds (R3: 10 minutes or less). Default: 600 000. */
  ttlMs: number;
}

/** Default limits: five concurrent logins per session (several tabs), ten minutes each. */
export const DEFAULT_TRANSACTION_LIMITS: Readonly<TransactionLimits> = Object.freeze({
  maxTransactions: 5,
  ttlMs: 600_000,
});

/** Upper bound on entries {@link isTransactionBag} accepts, so a tampered bag cannot make lookups slow. */
const MAX_BAG_ENTRIES = 64;
const STATE_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
// RFC 7636 4.1 unreserved characters, 43 to 128 of them.
const VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const RETURN_TO_MAX_LENGTH = 2048;

/** Outcome of {@link consumeTransaction}. Failures are outcomes (login expired, retry), not errors. */
export type ConsumeResult =
  { ok: true; transaction: LoginTransaction } | { ok: false; reason: 'unknown_state' | 'expired' };

/**
 * Starts a login transaction and records it in `bag` (mutated in place).
 *
 * Expired entries are dropped first; then the oldest entries are evicted so that at most
 * `limits.maxTransactions` remain after adding the new one (R4: a second tab does not break the first).
 *
 * @param bag - The session's bag; validate data read from a session with {@link isTransactionBag} first.
 * @param init.returnTo - Post-login target, already sanitized with `sanitizeReturnTo`.
 * @param init.withNonce - Also create an OIDC nonce (when the login requests an ID token).
 * @param init.now - Current time in milliseconds since the epoch.
 * @param limits - Default: {@link DEFAULT_TRANSACTION_LIMITS}.
 * @throws TypeError when `limits` or `init.now` is out of range.
 * @example
 * ```ts
 * const tx = openTransaction(bag, { returnTo: '/', withNonce: true, now: Date.now() });
 * const challenge = pkceChallenge(tx.verifier);
 * ```
 */
export function openTransaction(
  bag: TransactionBag,
  init: { returnTo: string; withNonce: boolean; now: number },
  limits: TransactionLimits = DEFAULT_TRANSACTION_LIMITS,
): LoginTransaction {
  checkLimits(limits);
  if (!Number.isFinite(init.now)) throw new TypeError('"now" must be a finite number of milliseconds');
  pruneExpired(bag, init.now, limits.ttlMs);

  const keys = Object.keys(bag);
  if (keys.length >= limits.maxTransactions) {
    // Oldest first; the stable sort keeps insertion order between entries created in the same millisecond.
    keys.sort((a, b) => (bag[a]?.t ?? 0) - (bag[b]?.t ?? 0));
    for (const key of keys.slice(0, keys.length - (limits.maxTransactions - 1))) delete bag[key];
  }

  const state = randomToken(32);
  const { verifier } = createPkcePair();
  const transaction: LoginTransaction = { state, verifier, returnTo: init.returnTo, createdAt: init.now };
  const entry: TransactionBag[string] = { v: verifier, r: init.returnTo, t: init.now };
  if (init.withNonce) {
    const nonce = randomToken(32);
    transaction.nonce = nonce;
    entry.n = nonce;
  }
  bag[state] = entry;
  return transaction;
}

/**
 * Looks up the transaction for a callback's `state` and removes it from `bag` (one-time use, R3).
 *
 * The entry is deleted before returning, also when it turned out to be expired, so a replayed callback
 * URL finds nothing. Other expired entries are pruned as well. `state` is compared against every key in
 * constant time (R57). An entry is expired when `now - createdAt > ttlMs`.
 *
 * @param bag - The session's bag (mutated in place).
 * @param state - The `state` from the callback, already checked by `parseCallbackParams`.
 * @param now - Current time in milliseconds since the epoch.
 * @param limits - Default: {@link DEFAULT_TRANSACTION_LIMITS}.
 * @throws TypeError when `limits` is out of range.
 * @example
 * ```ts
 * const result = consumeTransaction(bag, params.state, Date.now());
 * if (!result.ok) return fail(result.reason);
 * ```
 */
export function consumeTransaction(
  bag: TransactionBag,
  state: string,
  now: number,
  limits: TransactionLimits = DEFAULT_TRANSACTION_LIMITS,
): ConsumeResult {
  checkLimits(limits);
  let match: string | undefined;
  // No early exit: the time taken must not depend on which key (if any) matched.
  for (const key of Object.keys(bag)) {
    if (safeEqual(key, state) && match === undefined) match = key;
  }

  let result: ConsumeResult = { ok: false, reason: 'unknown_state' };
  if (match !== undefined) {
    const entry = bag[match];
    delete bag[match];
    if (entry !== undefined) {
      if (isExpired(entry.t, now, limits.ttlMs)) {
        result = { ok: false, reason: 'expired' };
      } else {
        const transaction: LoginTransaction = {
          state: match,
          verifier: entry.v,
          returnTo: entry.r,
          createdAt: entry.t,
        };
        if (entry.n !== undefined) transaction.nonce = entry.n;
        result = { ok: true, transaction };
      }
    }
  }
  pruneExpired(bag, now, limits.ttlMs);
  return result;
}

/**
 * True when `value` has exactly the shape of a {@link TransactionBag}: a plain object of at most 64
 * entries, each keyed by a base64url state and holding only `v` (PKCE verifier), `r` (a path of at most
 * 2048 characters), `t` (a non-negative integer) and optionally `n` (base64url nonce). Session data can be
 * corrupted by other code, so anything else is rejected rather than repaired.
 *
 * @example
 * ```ts
 * const bag = isTransactionBag(session.kakaoLogin) ? session.kakaoLogin : {};
 * ```
 */
export function isTransactionBag(value: unknown): value is TransactionBag {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  if (keys.length > MAX_BAG_ENTRIES || Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const key of keys) {
    if (!STATE_PATTERN.test(key)) return false;
    const entry = Object.getOwnPropertyDescriptor(value, key)?.value as unknown;
    if (!isPlainObject(entry)) return false;
    for (const field of Object.keys(entry)) {
      if (field !== 'v' && field !== 'r' && field !== 't' && field !== 'n') return false;
    }
    const { v, r, t, n } = entry as Record<string, unknown>;
    if (typeof v !== 'string' || !VERIFIER_PATTERN.test(v)) return false;
    if (typeof r !== 'string' || r.length > RETURN_TO_MAX_LENGTH || !r.startsWith('/')) return false;
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) return false;
    if ('n' in entry && (typeof n !== 'string' || !NONCE_PATTERN.test(n))) return false;
  }
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isExpired(createdAt: number, now: number, ttlMs: number): boolean {
  return now - createdAt > ttlMs;
}

function pruneExpired(bag: TransactionBag, now: number, ttlMs: number): void {
  for (const key of Object.keys(bag)) {
    const entry = bag[key];
    if (entry === undefined || isExpired(entry.t, now, ttlMs)) delete bag[key];
  }
}

function checkLimits(limits: TransactionLimits): void {
  const { maxTransactions, ttlMs } = limits;
  if (!Number.isInteger(maxTransactions) || maxTransactions < 1 || maxTransactions > MAX_BAG_ENTRIES) {
    throw new TypeError(
      `"maxTransactions" must be an integer from 1 to ${MAX_BAG_ENTRIES} (got ${String(maxTransactions)})`,
    );
  }
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`"ttlMs" must be a positive number of milliseconds (got ${String(ttlMs)})`);
  }
}
