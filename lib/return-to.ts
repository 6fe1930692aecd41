import { configError } from './config';

/**
 * Paths a post-login redirect must never target: the login routes themselves, logout and webhooks
 * so `returnTo` cannot create a redirect loop or trigger an action.
 */
export const DEFAULT_RESERVED_PREFIXES: readonly string[] = Object.freeze(['/auth', '/logout', '/webhooks']);

const MAX_LENGTH = 2048;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_OR_BACKSLASH = /[\x00-\x1f\x7f\\]/;
const FALLBACK = '/';

/**
 * Returns `value` if it is a safe same-origin path to redirect to after login, otherwise `'/'`.
 *
 * Accepted: a single string of at most 2048 characters that starts with exactly one `/` (not `//`, not
 * `/\`), with no control characters (`\x00`–`\x1f`, `\x7f`) and no backslash, checked both as given and
 * after decoding percent-escapes once (`/%2F%2Fevil.com`, `/%5Cevil.com`, `%0d%0a` fail; undecodable input
 * fails), that resolves against `origin` to the same origin and whose resolved path (dot segments
 * removed, compared case-insensitively, also once decoded) is not a reserved prefix nor below one.
 * Anything else, including arrays (a repeated parameter) and non-strings, gives `'/'`. A valid value is
 * returned exactly as given, not re-serialised.
 *
 * Run it when storing the value at login start and again right before redirecting, in case anything
 * else wrote the stored value.
 *
 * @param value - The candidate, e.g. `req.query.returnTo`.
 * @param options.origin - The app's origin, e.g. `https://app.example` (the origin of the callback URL).
 * @param options.reservedPrefixes - Paths that are refused together with everything below them.
 *   Default: {@link DEFAULT_RESERVED_PREFIXES}.
 * @throws TypeError when `options.origin` is not an absolute http(s) URL (a configuration mistake).
 * @example
 * ```ts
 * sanitizeReturnTo('/dashboard?tab=1', { origin: 'https://app.example' }); // '/dashboard?tab=1'
 * sanitizeReturnTo('//evil.com', { origin: 'https://app.example' }); // '/'
 * ```
 */
export function sanitizeReturnTo(
  value: unknown,
  options: { origin: string; reservedPrefixes?: readonly string[] },
): string {
  const origin = parseOrigin(options.origin);
  // The common case (no returnTo at all) needs no further parsing.
  if (value === FALLBACK) return FALLBACK;
  if (typeof value !== 'string') return FALLBACK;
  if (value.length > MAX_LENGTH || !isSinglySlashedPath(value)) return FALLBACK;

  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return FALLBACK;
  }
  if (!isSinglySlashedPath(decoded)) return FALLBACK;

  let resolved: URL;
  try {
    resolved = new URL(value, origin);
  } catch {
    return FALLBACK;
  }
  // Unreachable after the checks above for any URL parser we know of; kept as the independent second
  // check above, in case a parser quirk ever makes a path-absolute string leave the origin.
  if (resolved.origin !== origin) return FALLBACK;

  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(resolved.pathname);
  } catch {
    return FALLBACK;
  }
  const reserved = options.reservedPrefixes ?? DEFAULT_RESERVED_PREFIXES;
  // The resolved path has dot segments (also %2e ones) removed; decoding it catches /%61uth and /auth%2Fx.
  if (isReserved(decodedPath, reserved)) return FALLBACK;
  return value;
}

/** The last origin parsed: sanitizers are called with the app's one origin, again and again. */
let lastOrigin: { value: string; origin: string } | undefined;

function parseOrigin(value: string): string {
  if (lastOrigin?.value === value) return lastOrigin.origin;
  let origin = 'null';
  try {
    origin = new URL(value).origin;
  } catch {
    // Reported below with a message that says what is expected.
  }
  if (!/^https?:\/\//.test(origin)) {
    throw configError(
      `sanitizeReturnTo: "origin" must be an absolute http(s) URL such as https://app.example (got "${value}")`,
    );
  }
  lastOrigin = { value, origin };
  return origin;
}

/** Starts with exactly one `/`, and has no control character or backslash anywhere. */
function isSinglySlashedPath(path: string): boolean {
  return path.startsWith('/') && path[1] !== '/' && !CONTROL_OR_BACKSLASH.test(path);
}

function isReserved(pathname: string, prefixes: readonly string[]): boolean {
  const path = pathname.toLowerCase();
  return prefixes.some((raw) => {
    // A prefix given as '/auth/' means the same as '/auth'.
    const prefix = raw.toLowerCase().replace(/\/+$/, '');
    return path === prefix || path.startsWith(`${prefix}/`);
  });
}
