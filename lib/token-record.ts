/**
 * The token record sealed for a login: its plaintext codec (tab-separated fields, or JSON when a token
 * contains a tab) and its public shape, {@link KakaoTokens}.
 */
import { TokenDecryptionError } from './errors';

/** A user's Kakao tokens for one login, as the app sees them after decryption. */
export interface KakaoTokens {
  accessToken: string;
  refreshToken: string;
  idToken?: string;
  /**
   * Epoch ms from which the access token counts as expired and gets refreshed: Kakao's expiry less
   * the refresh skew (a minute by default; at most half the token's lifetime). Absent when Kakao did
   * not say how long the token lives: it is then refreshed when Kakao refuses it (-401).
   */
  accessTokenExpiresAt?: number;
  /** Epoch ms at which the refresh token expires. */
  refreshTokenExpiresAt: number;
}

/**
 * The sealed record, in seconds. Sealed as tab-separated fields (`a r e x b i`, numbers in base 36,
 * absent ones empty), which keeps Redis small; a record whose tokens contain a tab is sealed as JSON,
 * which is read too. The
 * granted scope is not kept: it is the verify callback's to use at login, and
 * `KakaoClient.getScopes()` (`GET /v2/user/scopes`) answers it later.
 */
export interface TokenRecord {
  /** access token */
  a: string;
  /** refresh token */
  r: string;
  /** ID token */
  i?: string;
  /** refresh due, epoch s (absent: unknown lifetime) */
  e?: number;
  /** refresh token expiry, epoch s */
  x: number;
  /** end of the login (session's absolute lifetime), epoch s; absent for offline access */
  b?: number;
}

/** Whether two reads saw the same tokens (no refresh happened in between). */
export function sameTokens(a: TokenRecord, b: TokenRecord): boolean {
  return a.a === b.a && a.r === b.r;
}

const FIELD_SEPARATOR = '\t';

/** The plaintext sealed for a record. */
export function encodeRecord(record: TokenRecord): string {
  const texts = [record.a, record.r, record.i ?? ''];
  // A token that could be mistaken for the format (never seen from Kakao): the JSON form.
  if (texts.some((text) => text.includes(FIELD_SEPARATOR)) || record.a.startsWith('{')) {
    return JSON.stringify(record);
  }
  const number = (n: number | undefined) => (n === undefined ? '' : n.toString(36));
  return [record.a, record.r, number(record.e), number(record.x), number(record.b), record.i ?? ''].join(
    FIELD_SEPARATOR,
  );
}

/**
 * The record in a sealed plaintext.
 * @throws TokenDecryptionError when the text is no record (it opened, so it was written by a version that
 *   sealed something else under this purpose, or by a bug).
 */
export function parseRecord(text: string): TokenRecord {
  const r = text.startsWith('{') ? parseJsonRecord(text) : parseFields(text);
  if (
    r === undefined ||
    typeof r.a !== 'string' ||
    r.a === '' ||
    typeof r.r !== 'string' ||
    r.r === '' ||
    typeof r.x !== 'number' ||
    !Number.isSafeInteger(r.x) ||
    (r.e !== undefined && !Number.isSafeInteger(r.e)) ||
    (r.b !== undefined && !Number.isSafeInteger(r.b)) ||
    (r.i !== undefined && typeof r.i !== 'string')
  ) {
    throw new TokenDecryptionError();
  }
  return {
    a: r.a,
    r: r.r,
    x: r.x,
    ...(r.e !== undefined && { e: r.e }),
    ...(r.b !== undefined && { b: r.b }),
    ...(r.i !== undefined && { i: r.i }),
  };
}

function parseJsonRecord(text: string): Partial<TokenRecord> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Partial<TokenRecord>) : undefined;
  } catch {
    return undefined;
  }
}

function parseFields(text: string): Partial<TokenRecord> | undefined {
  const fields = text.split(FIELD_SEPARATOR);
  if (fields.length !== 6) return undefined;
  const [a, r, e, x, b, i] = fields as [string, string, string, string, string, string];
  const number = (field: string) => (/^[0-9a-z]{1,11}$/.test(field) ? parseInt(field, 36) : NaN);
  return {
    a,
    r,
    x: number(x),
    ...(e !== '' && { e: number(e) }),
    ...(b !== '' && { b: number(b) }),
    ...(i !== '' && { i }),
  };
}

/** The record as the app sees it. */
export function toTokens(record: TokenRecord): KakaoTokens {
  return {
    accessToken: record.a,
    refreshToken: record.r,
    ...(record.e !== undefined && { accessTokenExpiresAt: record.e * 1000 }),
    refreshTokenExpiresAt: record.x * 1000,
    ...(record.i !== undefined && { idToken: record.i }),
  };
}
