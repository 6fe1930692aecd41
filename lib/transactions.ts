/**
 * Login transactions: what a login start creates and its callback consumes exactly once. Each one is
 * sealed (AES-256-GCM, under a key derived from the app's key ring) into a cookie of the browser that
 * started the login, named after a digest of its `state`, so the server keeps nothing before login and
 * every tab has its own. Pure: no request, no response.
 */
import { createHash } from 'node:crypto';
import { TokenDecryptionError } from './errors';
import { createPkcePair, randomToken, safeEqual } from './pkce';
import type { TokenCipher } from './token-cipher';

/** One pending login. The verifier and nonce never leave the server in readable form. */
export interface LoginTransaction {
  /** The `state` sent to Kakao: 43 characters of base64url (256 bits). */
  state: string;
  /** PKCE `code_verifier` (43 characters of base64url). */
  verifier: string;
  /** Where to go after a successful login: a path already passed through `sanitizeReturnTo`. */
  returnTo: string;
  /** Creation time, epoch ms. */
  createdAt: number;
  /** OIDC `nonce`, present when the login asked for an ID token. */
  nonce?: string;
  /** The `Path` attribute the transaction's cookie was set with (needed to clear it). */
  cookiePath: string;
}

/** Bounds of the pending logins of one browser. */
export interface TransactionLimits {
  /** Most pending logins per browser (tabs); the oldest is dropped first. Default 5. */
  maxTransactions: number;
  /** Lifetime of a transaction in ms. Default 600000 (10 minutes). */
  ttlMs: number;
  /** Most bytes of transaction cookies per browser (names and values). Default 8192. */
  maxBytes: number;
}

export const DEFAULT_TRANSACTION_LIMITS: Readonly<TransactionLimits> = Object.freeze({
  maxTransactions: 5,
  ttlMs: 600_000,
  maxBytes: 8192,
});

const PURPOSE = 'kakao-login-transaction';
const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;
const RETURN_TO_MAX = 2048;

/** Digest of a state, base64url (43 characters): the one-time marker's name and the cookie suffix. */
export function stateDigest(state: string): string {
  return createHash('sha256').update(`kakao-state|${state}`).digest('base64url');
}

/** The cookie name of the transaction for `state`: `<base>.<12 characters of its digest>`. */
export function transactionCookieName(base: string, state: string): string {
  return `${base}.${stateDigest(state).slice(0, 12)}`;
}

/** Starts a transaction: fresh state, PKCE verifier and (for OIDC) nonce from the CSPRNG. */
export function createTransaction(init: {
  returnTo: string;
  withNonce: boolean;
  now: number;
  cookiePath: string;
}): LoginTransaction {
  return {
    state: randomToken(32),
    verifier: createPkcePair().verifier,
    returnTo: init.returnTo,
    createdAt: init.now,
    cookiePath: init.cookiePath,
    ...(init.withNonce && { nonce: randomToken(32) }),
  };
}

/** Seals a transaction into the value of its cookie; the AAD binds the purpose and the cookie name. */
export function sealTransaction(cipher: TokenCipher, cookieName: string, tx: LoginTransaction): string {
  const payload = {
    s: tx.state,
    v: tx.verifier,
    r: tx.returnTo,
    t: tx.createdAt,
    p: tx.cookiePath,
    n: tx.nonce,
  };
  return cipher.seal(JSON.stringify(payload), { purpose: PURPOSE, name: cookieName });
}

/**
 * Opens a transaction cookie.
 * @throws TokenDecryptionError when the value was not sealed for this cookie name (tampered, renamed,
 *   another purpose) or is malformed; TokenKeyUnknownError when sealed under a key this ring lacks.
 */
export function openTransaction(cipher: TokenCipher, cookieName: string, value: string): LoginTransaction {
  const { plaintext } = cipher.open(value, { purpose: PURPOSE, name: cookieName });
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(plaintext) as Record<string, unknown>;
  } catch {
    throw new TokenDecryptionError();
  }
  const { s, v, r, t, p: path, n } = payload ?? {};
  if (
    typeof s !== 'string' ||
    !STATE_PATTERN.test(s) ||
    typeof v !== 'string' ||
    !VERIFIER_PATTERN.test(v) ||
    typeof r !== 'string' ||
    !r.startsWith('/') ||
    r.length > RETURN_TO_MAX ||
    typeof t !== 'number' ||
    !Number.isSafeInteger(t) ||
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    (n !== undefined && (typeof n !== 'string' || !STATE_PATTERN.test(n)))
  ) {
    // Sealed by us, so this is a bug or a key compromise, never user input: treat as tampering.
    throw new TokenDecryptionError();
  }
  return {
    state: s,
    verifier: v,
    returnTo: r,
    createdAt: t,
    cookiePath: path,
    ...(n !== undefined && { nonce: n }),
  };
}

/** Whether the transaction opened from a cookie belongs to the callback's `state` and is still live. */
export function checkTransaction(
  tx: LoginTransaction,
  state: string,
  now: number,
  ttlMs: number,
): 'ok' | 'state_mismatch' | 'expired' {
  if (!safeEqual(tx.state, state)) return 'state_mismatch';
  if (now - tx.createdAt > ttlMs || tx.createdAt > now + 60_000) return 'expired';
  return 'ok';
}

/**
 * Which pending transactions to drop so that, with a new cookie of `incomingBytes`, at most
 * `maxTransactions` remain and they take at most `maxBytes`: the oldest go first.
 */
export function transactionsToEvict(
  existing: ReadonlyArray<{ name: string; bytes: number; createdAt: number }>,
  incomingBytes: number,
  limits: TransactionLimits,
): string[] {
  const newestFirst = [...existing].sort((a, b) => b.createdAt - a.createdAt);
  let bytes = incomingBytes;
  let kept = 1;
  const evict: string[] = [];
  for (const cookie of newestFirst) {
    if (kept < limits.maxTransactions && bytes + cookie.bytes <= limits.maxBytes) {
      kept++;
      bytes += cookie.bytes;
    } else {
      evict.push(cookie.name);
    }
  }
  return evict;
}
