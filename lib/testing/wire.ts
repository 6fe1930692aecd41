/**
 * Wire helpers of the emulator: the reply value every handler returns, JSON with exact 64-bit integers,
 * form/query parsing, cookies and redirect URLs. No `req`/`res` here.
 */

/**
 * A misuse of the emulator's API (a bad option, user or fault): a `TypeError` with Node's
 * `ERR_INVALID_ARG_VALUE` code, like the library's configuration errors.
 */
export function argumentError(message: string): TypeError & { code: 'ERR_INVALID_ARG_VALUE' } {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' as const });
}

/** Parsed query string or form body; repeated keys become arrays. */
export type ParamMap = Record<string, string | string[]>;

/** What a handler answers; the server writes it. Handlers never touch the socket. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** One request as handlers see it. */
export interface Incoming {
  method: string;
  path: string;
  query: ParamMap;
  form: ParamMap;
  /** The raw body as UTF-8 text (JSON for the control API). */
  bodyText: string;
  /** Lower-cased `Content-Type` media type without parameters, or `''`. */
  contentType: string;
  headers: Record<string, string | string[] | undefined>;
  cookies: Map<string, string>;
}

/** Kakao's JSON content type, charset suffix included on purpose (some clients trip over it). */
export const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8';

/** A JSON integer written digit for digit, for 64-bit ids beyond `Number.MAX_SAFE_INTEGER`. */
export class RawJsonInteger {
  readonly digits: string;

  constructor(digits: string) {
    if (!/^-?\d{1,20}$/.test(digits)) throw argumentError('RawJsonInteger expects decimal digits');
    this.digits = digits;
  }
}

/** Like `JSON.stringify`, but writes {@link RawJsonInteger} verbatim and skips `undefined` members. */
export function encodeJson(value: unknown): string {
  if (value instanceof RawJsonInteger) return value.digits;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (Array.isArray(value))
        return `[${value.map((item) => (item === undefined ? 'null' : encodeJson(item))).join(',')}]`;
      return `{${Object.entries(value as Record<string, unknown>)
        .filter(([, member]) => member !== undefined)
        .map(([key, member]) => `${JSON.stringify(key)}:${encodeJson(member)}`)
        .join(',')}}`;
    default:
      return 'null';
  }
}

/** A JSON reply with Kakao's content type. */
export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_CONTENT_TYPE, ...headers }, body: encodeJson(value) };
}

/** An HTML reply with a strict Content-Security-Policy and no caching. */
export function htmlReply(
  status: number,
  html: string,
  csp: string,
  headers: Record<string, string | string[]> = {},
): Reply {
  return {
    status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...headers,
    },
    body: html,
  };
}

/** A 302 to `location`. */
export function redirectReply(location: string, headers: Record<string, string | string[]> = {}): Reply {
  return { status: 302, headers: { Location: location, 'Cache-Control': 'no-store', ...headers }, body: '' };
}

/** Parses `a=1&b=2&a=3` into `{ a: ['1', '3'], b: '2' }`. */
export function parseParams(text: string): ParamMap {
  const out: ParamMap = Object.create(null) as ParamMap;
  for (const [key, value] of new URLSearchParams(text)) {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

/** The single value of a parameter: `undefined` when absent, the first value when repeated. */
export function param(map: ParamMap, key: string): string | undefined {
  const value = map[key];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of a parameter. */
export function params(map: ParamMap, key: string): string[] {
  const value = map[key];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The first parameter among `keys` that is repeated, if any (OAuth forbids repeats). */
export function repeatedParam(map: ParamMap, keys: readonly string[]): string | undefined {
  return keys.find((key) => Array.isArray(map[key]));
}

/** Parses a `Cookie` header. Malformed pairs are skipped. */
export function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '');
  for (const pair of text.split(';')) {
    const index = pair.indexOf('=');
    if (index <= 0) continue;
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/**
 * Appends parameters to a redirect URI, percent-encoding with `%20` for spaces (as Kakao does, e.g.
 * `error_description=User%20denied%20access`). Pairs whose value is `undefined` are left out.
 */
export function appendQuery(
  uri: string,
  pairs: ReadonlyArray<readonly [string, string | undefined]>,
): string {
  const encoded = pairs
    .filter((pair): pair is readonly [string, string] => pair[1] !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  if (encoded === '') return uri;
  const separator = uri.includes('?') ? (uri.endsWith('?') || uri.endsWith('&') ? '' : '&') : '?';
  return `${uri}${separator}${encoded}`;
}

/** True for an absolute http(s) URL without a fragment or credentials. */
export function isAbsoluteHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hash === '' &&
    !value.includes('#') &&
    url.username === '' &&
    url.password === ''
  );
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
