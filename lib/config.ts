/**
 * Option validation and defaults, in one place. Everything is checked once, at construction, with
 * messages that say how to fix the mistake; the caller's objects are copied, never mutated.
 */

/** A configuration mistake: a `TypeError` with Node's `ERR_INVALID_ARG_VALUE` code. */
export function configError(message: string): TypeError & { code: 'ERR_INVALID_ARG_VALUE' } {
  const error = new TypeError(message) as TypeError & { code: 'ERR_INVALID_ARG_VALUE' };
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/** Kakao's `prompt` values (https://developers.kakao.com/docs/latest/ko/kakaologin/rest-api#request-code). */
export type KakaoPrompt = 'login' | 'none' | 'create' | 'select_account';
const PROMPTS: readonly string[] = ['login', 'none', 'create', 'select_account'];

export const DEFAULT_AUTH_ORIGIN = 'https://kauth.kakao.com';
export const DEFAULT_API_ORIGIN = 'https://kapi.kakao.com';

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** Rejects unknown option names, suggesting the closest known one (`clientId` → `clientID`). */
export function checkOptionNames(what: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const lower = name.toLowerCase();
    const suggestion =
      known.find((k) => k.toLowerCase() === lower) ??
      known.filter((k) => distance(k.toLowerCase(), lower) <= 2).sort()[0];
    throw configError(
      `${what}: unknown option "${name}"${suggestion ? `; did you mean "${suggestion}"?` : ''} Known options: ${known.join(', ')}.`,
    );
  }
}

/** A non-empty string without whitespace or control characters. */
export function requireString(what: string, name: string, value: unknown, hint: string): string {
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (typeof value !== 'string' || value.trim() === '' || /[\s\x00-\x1f\x7f]/.test(value)) {
    const got =
      value === undefined ? 'nothing' : typeof value === 'string' ? 'an invalid string' : typeof value;
    throw configError(`${what}: "${name}" must be a non-empty string without spaces (${hint}); got ${got}.`);
  }
  return value;
}

/** An absolute http(s) URL, returned unchanged (it is used verbatim). */
export function requireAbsoluteUrl(what: string, name: string, value: unknown, hint: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
    throw configError(
      `${what}: "${name}" must be an absolute http(s) URL ${hint} (got ${JSON.stringify(String(value)).slice(0, 200)}).`,
    );
  }
  return value as string;
}

/** An http(s) origin such as `https://kauth.kakao.com` (a trailing slash is tolerated and dropped). */
export function requireOrigin(what: string, name: string, value: unknown, example: string): string {
  const url = requireAbsoluteUrl(what, name, value, `such as ${example}`);
  const parsed = new URL(url);
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
    throw configError(
      `${what}: "${name}" must be an origin without a path, such as ${example} (got "${url}").`,
    );
  }
  return parsed.origin;
}

/** A positive integer number of milliseconds. */
export function requirePositiveInt(what: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw configError(`${what}: "${name}" must be a positive integer (got ${String(value)}).`);
  }
  return value;
}

/** Scope ids from a comma/space-separated string or an array; deduplicated, order kept. */
export function parseScopes(what: string, value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const list =
    typeof value === 'string'
      ? value.split(/[\s,]+/)
      : Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? (value as string[])
        : undefined;
  if (!list) {
    throw configError(
      `${what}: "scope" must be a string like "profile_nickname,profile_image" or an array of strings.`,
    );
  }
  const scopes = [...new Set(list.map((s) => s.trim()).filter(Boolean))];
  for (const scope of scopes) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(scope)) {
      throw configError(
        `${what}: scope "${scope.slice(0, 64)}" is not a Kakao consent item id (letters, digits and _ only, e.g. "account_email").`,
      );
    }
  }
  return Object.freeze(scopes);
}

/** `prompt` values, validated against Kakao's list. */
export function parsePrompt(what: string, value: unknown): readonly KakaoPrompt[] {
  if (value === undefined) return Object.freeze([]);
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (!list || !list.every((p) => typeof p === 'string' && PROMPTS.includes(p.trim()))) {
    throw configError(
      `${what}: "prompt" must be one or more of ${PROMPTS.join(', ')} (got ${JSON.stringify(value)}).`,
    );
  }
  return Object.freeze([...new Set(list.map((p) => (p as string).trim() as KakaoPrompt))]);
}

/** Comma-separated tags or an array (Kakao Sync `service_terms`). */
export function parseTags(what: string, name: string, value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (!list || !list.every((t) => typeof t === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(t.trim()))) {
    throw configError(`${what}: "${name}" must be a comma-separated list of tags or an array of strings.`);
  }
  return Object.freeze(list.map((t) => (t as string).trim()));
}
