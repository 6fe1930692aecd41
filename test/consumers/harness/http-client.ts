/**
 * A small browser-like HTTP client for driving a consumer app over its real socket: one cookie jar
 * per origin (with Path, Max-Age and Expires), redirects returned rather than followed, and the
 * Sec-Fetch headers a browser sends on a top-level navigation.
 */

import { httpRequest } from '../../helpers/navigate';

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  expiresAt: number | undefined;
}

/** Cookies per origin, as a browser keeps them (no Domain attribute support: host-only cookies). */
export class CookieJar {
  readonly #byOrigin = new Map<string, Map<string, StoredCookie>>();

  store(url: URL, setCookie: readonly string[]): void {
    let jar = this.#byOrigin.get(url.origin);
    if (!jar) {
      jar = new Map();
      this.#byOrigin.set(url.origin, jar);
    }
    for (const header of setCookie) {
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: StoredCookie = {
        name: pair.slice(0, eq),
        value: pair.slice(eq + 1),
        path: defaultPath(url.pathname),
        expiresAt: undefined,
      };
      for (const attribute of attributes) {
        const [key = '', ...rest] = attribute.split('=');
        const value = rest.join('=');
        const lower = key.toLowerCase();
        if (lower === 'path' && value.startsWith('/')) cookie.path = value;
        if (lower === 'max-age') cookie.expiresAt = Date.now() + Number(value) * 1000;
        if (lower === 'expires' && cookie.expiresAt === undefined) cookie.expiresAt = Date.parse(value);
      }
      const id = `${cookie.path} ${cookie.name}`;
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now()) jar.delete(id);
      else jar.set(id, cookie);
    }
  }

  header(url: URL): string | undefined {
    const jar = this.#byOrigin.get(url.origin);
    if (!jar) return undefined;
    const now = Date.now();
    const sent = [...jar.values()]
      .filter((c) => (c.expiresAt === undefined || c.expiresAt > now) && pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`);
    return sent.length > 0 ? sent.join('; ') : undefined;
  }

  /** Names of the cookies currently held for an origin. */
  names(origin: string): string[] {
    return [...(this.#byOrigin.get(origin)?.values() ?? [])].map((c) => c.name);
  }

  /** A copy, to replay an old state of the jar later (e.g. a cookie from before logout). */
  clone(): CookieJar {
    const copy = new CookieJar();
    for (const [origin, jar] of this.#byOrigin) {
      copy.#byOrigin.set(origin, new Map([...jar].map(([id, c]) => [id, { ...c }])));
    }
    return copy;
  }
}

function defaultPath(pathname: string): string {
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** One response, body read. */
export interface Reply {
  status: number;
  url: URL;
  headers: Headers;
  location: URL | undefined;
  text: string;
  json<T = unknown>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Send as a top-level navigation (Sec-Fetch-Mode: navigate, Sec-Fetch-Dest: document). */
  navigate?: boolean;
}

/** A cookie-keeping client; redirects are returned, {@link Client.follow} follows them. */
export class Client {
  constructor(readonly jar: CookieJar = new CookieJar()) {}

  async request(target: string | URL, options: RequestOptions = {}): Promise<Reply> {
    const url = new URL(target);
    const headers: Record<string, string> = { Accept: 'text/html,application/json', ...options.headers };
    if (options.navigate) {
      headers['Sec-Fetch-Mode'] = 'navigate';
      headers['Sec-Fetch-Dest'] = 'document';
      headers['Sec-Fetch-Site'] ??= 'none';
    }
    const cookie = this.jar.header(url);
    if (cookie) headers.Cookie = cookie;
    let body: string | undefined;
    if (options.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    // node:http, not fetch: fetch cannot send the Sec-Fetch headers of a navigation.
    const response = await httpRequest(url, {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      ...(body !== undefined && { body }),
    });
    this.jar.store(url, response.headers.getSetCookie());
    const text = await response.text();
    const location = response.headers.get('location');
    return {
      status: response.status,
      url,
      headers: response.headers,
      location: location === null ? undefined : new URL(location, url),
      text,
      json<T>() {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new Error(
            `${url.pathname} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
          );
        }
      },
    };
  }

  /**
   * Navigates like a browser: follows up to `max` redirects (303/302 become GET), sending the
   * Sec-Fetch headers of a navigation, and returns every hop's reply (the last one is not a redirect).
   */
  async follow(target: string | URL, options: RequestOptions = {}, max = 10): Promise<Reply[]> {
    const hops: Reply[] = [];
    let next: URL | undefined = new URL(target);
    let request: RequestOptions = { ...options, navigate: true };
    let previousOrigin: string | undefined = options.headers?.Origin;
    while (next) {
      if (hops.length > max) throw new Error(`more than ${max} redirects from ${String(target)}`);
      const site: string =
        previousOrigin === undefined ? 'none' : previousOrigin === next.origin ? 'same-origin' : 'cross-site';
      const reply = await this.request(next, {
        ...request,
        headers: { 'Sec-Fetch-Site': site, ...request.headers },
      });
      hops.push(reply);
      previousOrigin = next.origin;
      next = reply.status >= 300 && reply.status < 400 ? reply.location : undefined;
      request = { navigate: true };
    }
    return hops;
  }
}

/** `GET /path → 302 /x → 200` for error messages. */
export function describeHops(hops: readonly Reply[]): string {
  return hops
    .map(
      (hop) =>
        `${hop.url.origin === hops[0]?.url.origin ? '' : hop.url.origin}${hop.url.pathname} → ${hop.status}`,
    )
    .join(', ');
}
