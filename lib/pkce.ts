import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { configError } from './config';

/**
 * Returns a fresh random token from the operating system's CSPRNG, base64url-encoded without padding.
 *
 * @param bytes - Number of random bytes. Default: 32 (256 bits, 43 characters). Use at least 16 for
 *   anything that must be unguessable (state, nonce).
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `bytes` is not an integer from 1 to 1024.
 * @example
 * ```ts
 * const state = randomToken(); // e.g. 'qF3…' (43 characters of [A-Za-z0-9_-])
 * ```
 */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1024) {
    throw configError(`randomToken: "bytes" must be an integer from 1 to 1024 (got ${String(bytes)})`);
  }
  return randomBytes(bytes).toString('base64url');
}

/**
 * Creates a PKCE pair for one login transaction (RFC 7636, method S256).
 *
 * The verifier is `randomToken(32)`: 43 characters of `[A-Za-z0-9_-]`, 256 bits of entropy. The challenge
 * is `BASE64URL(SHA-256(ASCII(verifier)))` without padding. Only the challenge may leave the server.
 *
 * @example
 * ```ts
 * const { verifier, challenge } = createPkcePair();
 * ```
 */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomToken(32);
  return { verifier, challenge: pkceChallenge(verifier) };
}

/**
 * Computes the S256 code challenge of a verifier: `BASE64URL(SHA-256(ASCII(verifier)))`, no padding.
 *
 * @example
 * ```ts
 * pkceChallenge('dBjftJeZ4CVP-mJ92ZrP_INgMhwTSDKAyl3Uyy4bs-k'); // 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
 * ```
 */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * Compares two secret strings (state, nonce, CSRF token) in constant time.
 *
 * Both sides are hashed with SHA-256 first, so inputs of different lengths compare as unequal without
 * throwing and without revealing the length through timing.
 *
 * @example
 * ```ts
 * declare const received: string; // e.g. the state in the callback
 * declare const expected: string; // the state stored for this login
 * if (!safeEqual(received, expected)) throw new Error('state mismatch');
 * ```
 */
export function safeEqual(a: string, b: string): boolean {
  // UTF-16 is a lossless encoding of a JS string; UTF-8 would map every lone surrogate to U+FFFD and
  // make distinct strings compare equal.
  const da = createHash('sha256').update(a, 'utf16le').digest();
  const db = createHash('sha256').update(b, 'utf16le').digest();
  return timingSafeEqual(da, db);
}
