/* global URL, Buffer */
// A small keep-alive HTTP client with per-flow cookie jars. node:http keeps the load generator's own CPU
// cost low, which matters on a small machine where it shares cores with the apps, Redis and the emulator.
import http from 'node:http';

/** A keep-alive agent for one phase; destroy it afterwards so no idle socket outlives the server's keep-alive. */
export function createAgent(maxSockets = 256) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/**
 * One request; resolves with `{ status, headers, body }` (body as a string).
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string,string>, body?: string, agent: http.Agent, timeoutMs?: number }} options
 */
export function request(url, { method = 'GET', headers = {}, body, agent, timeoutMs = 30_000 }) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method,
        headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        agent,
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)),
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Whether cookie path `cookiePath` applies to request path `requestPath` (RFC 6265 §5.1.4). */
function pathMatches(cookiePath, requestPath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** The default cookie path of a request path (RFC 6265 §5.1.4): its directory. */
function defaultPath(requestPath) {
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}

/**
 * Cookies of one client, per host:port (enough for 127.0.0.1 servers on distinct ports), honouring
 * `Path`, `Max-Age` and `Expires` the way a browser does, so that an app which scopes a cookie to its
 * auth routes does not get it on every request.
 */
export class CookieJar {
  constructor() {
    /** host → Map<`${path}\n${name}`, { name, value, path }> */
    this.byHost = new Map();
  }

  /** Stores the Set-Cookie headers of a response from `url`. */
  store(url, headers) {
    const setCookie = headers['set-cookie'];
    if (!setCookie) return;
    const u = new URL(url);
    let cookies = this.byHost.get(u.host);
    if (!cookies) this.byHost.set(u.host, (cookies = new Map()));
    for (const line of setCookie) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let cookiePath = defaultPath(u.pathname);
      let expired = false;
      for (const attribute of attributes) {
        const [k, v = ''] = attribute.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'path' && v.trim().startsWith('/')) cookiePath = v.trim();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) expired = true;
      }
      const id = `${cookiePath}\n${name}`;
      if (expired || value === '') cookies.delete(id);
      else cookies.set(id, { name, value, path: cookiePath });
    }
  }

  /** The Cookie header for `url`, or undefined. Longer paths first, as browsers send them. */
  header(url) {
    const u = new URL(url);
    const cookies = this.byHost.get(u.host);
    if (!cookies || cookies.size === 0) return undefined;
    const matching = [...cookies.values()]
      .filter((c) => pathMatches(c.path, u.pathname))
      .sort((x, y) => y.path.length - x.path.length);
    return matching.length === 0 ? undefined : matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  /** Number of cookies held for `url`'s host (all paths). */
  count(url) {
    return this.byHost.get(new URL(url).host)?.size ?? 0;
  }
}

/** GET with the jar's cookies; stores the response's cookies. Does not follow redirects. */
export async function get(url, jar, agent, extraHeaders = {}) {
  const cookie = jar?.header(url);
  const res = await request(url, { agent, headers: cookie ? { ...extraHeaders, cookie } : extraHeaders });
  jar?.store(url, res.headers);
  return res;
}

/** The fetch metadata a browser sends on a top-level navigation (a click on "Login with Kakao"). */
export const NAVIGATION_HEADERS = Object.freeze({
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'sec-fetch-site': 'same-origin',
  'sec-fetch-user': '?1',
});
