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

/** Cookies of one client, per host:port (enough for 127.0.0.1 servers on distinct ports). */
export class CookieJar {
  constructor() {
    this.byHost = new Map();
  }

  /** Stores the Set-Cookie headers of a response from `url`. */
  store(url, headers) {
    const setCookie = headers['set-cookie'];
    if (!setCookie) return;
    const host = new URL(url).host;
    let cookies = this.byHost.get(host);
    if (!cookies) this.byHost.set(host, (cookies = new Map()));
    for (const line of setCookie) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        return (
          (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v.trim()) <= Date.now())
        );
      });
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  /** The Cookie header for `url`, or undefined. */
  header(url) {
    const cookies = this.byHost.get(new URL(url).host);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** GET with the jar's cookies; stores the response's cookies. Does not follow redirects. */
export async function get(url, jar, agent, extraHeaders = {}) {
  const cookie = jar?.header(url);
  const res = await request(url, { agent, headers: cookie ? { ...extraHeaders, cookie } : extraHeaders });
  jar?.store(url, res.headers);
  return res;
}
