/**
 * The cookies that carry login transactions: one per pending login, `HttpOnly`, `SameSite=Lax`, living
 * as long as the transaction. Over https they are `Secure` with the `__Host-` prefix (so a sibling
 * subdomain cannot plant one); over plain http their `Path` is limited to the auth routes.
 */
import type { Request, Response } from 'express';
import { configError } from './config';
import { TokenKeyUnknownError } from './errors';
import type { TokenCipher } from './token-cipher';
import {
  openTransaction,
  sealTransaction,
  transactionCookieName,
  transactionsToEvict,
  type LoginTransaction,
  type TransactionLimits,
} from './transactions';

/** Where the cookies of one strategy live. */
export interface TransactionCookieConfig {
  /** Name prefix: `__Host-<name>` over https, `<name>` over http. */
  base: string;
  secure: boolean;
  maxAgeMs: number;
}

/** A cookie as the browser sent it. */
export interface RequestCookie {
  name: string;
  value: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The cookie settings for a callback URL; `name` is checked (letters, digits, `_`, `-`). */
export function transactionCookieConfig(
  name: string,
  callbackURL: string,
  maxAgeMs: number,
): TransactionCookieConfig {
  if (!NAME_PATTERN.test(name))
    throw configError(`"transactionCookieName" must be 1–32 letters, digits, "_" or "-" (got "${name}").`);
  const secure = new URL(callbackURL).protocol === 'https:';
  return { base: secure ? `__Host-${name}` : name, secure, maxAgeMs };
}

/**
 * The `Path` of a transaction cookie: `/` over https (the `__Host-` prefix requires it), otherwise the
 * longest common directory of the login start and the callback, e.g. `/auth/kakao` for
 * `/auth/kakao` and `/auth/kakao/callback`.
 */
export function transactionCookiePath(
  config: TransactionCookieConfig,
  startPath: string,
  callbackPath: string,
): string {
  if (config.secure) return '/';
  const a = startPath.split('/');
  const b = callbackPath.split('/');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const common = a.slice(0, i).join('/');
  return common === '' ? '/' : common;
}

/**
 * Every `Path` a transaction cookie arriving at the callback can have been set with: `/` over https;
 * over http the callback path and each directory above it, since the start path (and so the common
 * directory) is not known at the callback. Used to clear a cookie that cannot be opened.
 */
export function possibleTransactionCookiePaths(
  config: TransactionCookieConfig,
  callbackPath: string,
): string[] {
  if (config.secure) return ['/'];
  const parts = callbackPath.split('/');
  const paths: string[] = [];
  for (let i = parts.length; i > 1; i--) {
    const path = parts.slice(0, i).join('/');
    if (path !== '' && !paths.includes(path)) paths.push(path);
  }
  paths.push('/');
  return paths;
}

/** The transaction cookies in the request (names starting with `<base>.`), unvalidated. */
export function readTransactionCookies(req: Request, config: TransactionCookieConfig): RequestCookie[] {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header === '') return [];
  const prefix = `${config.base}.`;
  const found: RequestCookie[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (!name.startsWith(prefix) || found.length >= 32) continue;
    found.push({ name, value: part.slice(eq + 1).trim() });
  }
  return found;
}

/** Bytes a cookie adds to the request's `Cookie` header. */
export function cookieBytes(name: string, value: string): number {
  return name.length + value.length + 3;
}

export function setTransactionCookie(
  res: Response,
  config: TransactionCookieConfig,
  name: string,
  value: string,
  path: string,
): void {
  res.cookie(name, value, {
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secure,
    path,
    maxAge: config.maxAgeMs,
    encode: String,
  });
}

export function clearTransactionCookie(
  res: Response,
  config: TransactionCookieConfig,
  name: string,
  path: string,
): void {
  res.cookie(name, '', {
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secure,
    path,
    expires: new Date(0),
  });
}

/**
 * Seals a new transaction into its cookie and drops the oldest pending ones of this browser beyond the
 * count and size bounds (unreadable ones always go).
 */
export function issueTransactionCookie(
  req: Request,
  res: Response,
  cipher: TokenCipher,
  config: TransactionCookieConfig,
  limits: TransactionLimits,
  tx: LoginTransaction,
): void {
  const name = transactionCookieName(config.base, tx.state);
  const value = sealTransaction(cipher, name, tx);
  const existing = readTransactionCookies(req, config).map(({ name: other, value: sealed }) => {
    try {
      const pending = openTransaction(cipher, other, sealed);
      return {
        name: other,
        bytes: cookieBytes(other, sealed),
        createdAt: pending.createdAt,
        path: pending.cookiePath,
      };
    } catch {
      return { name: other, bytes: Infinity, createdAt: -1, path: tx.cookiePath };
    }
  });
  const evict = new Set(transactionsToEvict(existing, cookieBytes(name, value), limits));
  for (const cookie of existing) {
    if (evict.has(cookie.name)) clearTransactionCookie(res, config, cookie.name, cookie.path);
  }
  setTransactionCookie(res, config, name, value, tx.cookiePath);
}

/** The callback's transaction, or why there is none. Its cookie is cleared in every case it exists. */
export type TakenTransaction =
  | { ok: true; tx: LoginTransaction }
  | {
      ok: false;
      reason:
        'no_transaction_cookie' | 'transaction_missing' | 'transaction_invalid' | 'transaction_key_unknown';
    };

export function takeTransactionCookie(
  req: Request,
  res: Response,
  cipher: TokenCipher,
  config: TransactionCookieConfig,
  callbackPath: string,
  state: string,
): TakenTransaction {
  const name = transactionCookieName(config.base, state);
  const cookies = readTransactionCookies(req, config);
  const cookie = cookies.find((c) => c.name === name);
  if (!cookie)
    return { ok: false, reason: cookies.length > 0 ? 'transaction_missing' : 'no_transaction_cookie' };
  try {
    const tx = openTransaction(cipher, name, cookie.value);
    clearTransactionCookie(res, config, name, tx.cookiePath);
    return { ok: true, tx };
  } catch (err) {
    // The Path it was set with is inside the unreadable value: clear it at every Path it can have.
    for (const path of possibleTransactionCookiePaths(config, callbackPath))
      clearTransactionCookie(res, config, name, path);
    return {
      ok: false,
      reason: err instanceof TokenKeyUnknownError ? 'transaction_key_unknown' : 'transaction_invalid',
    };
  }
}
