import http from 'node:http';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { startHarness, type Harness } from '../helpers/harness';
import { allKeys } from '../helpers/redis-inspect';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { FUZZ_HTTP_RUNS, configureFuzzing, hostileString, timeoutFor } from './fuzz-config';

configureFuzzing();

const REAL_STATE = '\u0001REAL_STATE';
const FOREIGN_CODE = '\u0001FOREIGN_CODE';
/** Everything a raw request target may carry unescaped (no space, no '#', no controls). */
const RAW_CHARS = [...'abcXYZ019-._~!$&\'()*+,;=:@/?[]{}|^`"<>%\\'];

interface Reply {
  status: number;
  location: string | undefined;
  setCookie: string[];
  body: string;
}

/**
 * One browser: a cookie jar (the session cookie and the per-login transaction cookies, each sent only
 * below its Path) and raw requests that keep the target as written.
 */
class Browser {
  readonly cookies = new Map<string, { value: string; path: string }>();

  constructor(private readonly origin: string) {}

  /** The Cookie header for a request target, as a browser would build it. */
  cookieHeader(target: string): string {
    const path = target.split('?')[0]!;
    return [...this.cookies]
      .filter(([, c]) => c.path === '/' || path === c.path || path.startsWith(`${c.path}/`))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  request(target: string): Promise<Reply> {
    const url = new URL(this.origin);
    const cookie = this.cookieHeader(target);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: 'GET',
          path: target,
          headers: cookie ? { cookie } : {},
          agent: false,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            const setCookie = res.headers['set-cookie'] ?? [];
            for (const line of setCookie) {
              const match = /^([^=;\s]+)=([^;]*)/.exec(line);
              if (!match) continue;
              const path = /;\s*Path=([^;]*)/i.exec(line)?.[1] ?? '/';
              if (/expires=Thu, 01 Jan 1970/i.test(line) || match[2] === '') this.cookies.delete(match[1]!);
              else this.cookies.set(match[1]!, { value: match[2]!, path });
            }
            resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookie, body });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
}

/** A query parameter as an attacker writes it: a name and a value, each percent-encoded or raw. */
const parameter = fc.record({
  name: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        'state',
        'code',
        'error',
        'iss',
        'access_token',
        'id_token',
        'token_type',
        'error_description',
        'error_uri',
        'returnTo',
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom('state[]', 'state[$ne]', 'code[0]', '__proto__', 'constructor', ''),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  ),
  value: fc.oneof(
    { weight: 5, arbitrary: fc.constant(REAL_STATE) },
    { weight: 2, arbitrary: fc.constant(FOREIGN_CODE) },
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('access_denied', 'consent_required', 'server_error', 'http://127.0.0.1'),
    },
    { weight: 3, arbitrary: hostileString(6) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  ),
  raw: fc.boolean(),
});

/** A callback as Kakao would send it (the real state with a code or an error), plus noise. */
const plausibleCallback = fc
  .tuple(
    fc.oneof(
      fc.constant({ name: 'code', value: FOREIGN_CODE, raw: false }),
      fc.stringMatching(/^[A-Za-z0-9_-]{10,60}$/).map((value) => ({ name: 'code', value, raw: false })),
      fc.constantFrom('access_denied', 'consent_required', 'server_error').map((value) => ({
        name: 'error',
        value,
        raw: false,
      })),
    ),
    fc.array(parameter, { maxLength: 2 }),
    fc.boolean(),
  )
  .map(([answer, noise, stateFirst]) => {
    const state = { name: 'state', value: REAL_STATE, raw: false };
    return stateFirst ? [state, answer, ...noise] : [...noise, answer, state];
  });

/** Percent-encodes, or keeps the characters a raw request target can carry and drops the others. */
function encode(text: string, raw: boolean): string {
  if (!raw) return encodeURIComponent(text);
  return [...text].filter((c) => RAW_CHARS.includes(c)).join('');
}

function assertSafeRedirect(h: Harness, reply: Reply): void {
  expect(reply.status === 302 || (reply.status >= 400 && reply.status < 500)).toBe(true);
  if (reply.status !== 302) return;
  const location = reply.location ?? '';
  expect(location.startsWith('/')).toBe(true);
  expect(location.startsWith('//')).toBe(false);
  expect(location.startsWith('/\\')).toBe(false);
  expect(new URL(location, h.app.url).origin).toBe(new URL(h.app.url).origin);
}

async function startLogin(h: Harness, browser: Browser, query = ''): Promise<Reply> {
  return browser.request(`/auth/kakao${query}`);
}

/** A code the emulator issued for another browser's login, so its PKCE challenge belongs to someone else. */
async function foreignCode(h: Harness): Promise<string> {
  const other = new Browser(h.app.url);
  const start = await startLogin(h, other);
  const authorized = await fetch(start.location!, { redirect: 'manual' });
  return new URL(authorized.headers.get('location')!).searchParams.get('code')!;
}

describe('the example app under generated callbacks and returnTo values', () => {
  let redis: RedisServerHandle;
  let inspector: Redis;
  let h: Harness;
  beforeAll(async () => {
    redis = await startRedisServer();
    inspector = new Redis(redis.url);
    h = await startHarness({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await h?.close();
    inspector?.disconnect();
    await redis?.kill();
  });

  test(
    'a generated callback never answers 5xx, never redirects off-site and never leaves a session behind',
    async () => {
      let withRealState = 0;
      const exchangesBefore = h.emulator.count('token');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.array(parameter, { maxLength: 6 }), plausibleCallback),
          fc.constantFrom('none', 'started', 'started', 'started-twice'),
          async (parameters, sessionKind) => {
            const browser = new Browser(h.app.url);
            let state = 'no-login-started';
            for (let i = 0; i < (sessionKind === 'none' ? 0 : sessionKind === 'started' ? 1 : 2); i++) {
              const start = await startLogin(h, browser);
              expect(start.status).toBe(302);
              state = new URL(start.location!).searchParams.get('state')!;
            }
            const needsCode = parameters.some((p) => p.value === FOREIGN_CODE);
            const code = needsCode ? await foreignCode(h) : '';
            if (parameters.some((p) => p.value === REAL_STATE && p.name === 'state')) withRealState += 1;
            const query = parameters
              .map((p) => {
                const value = p.value === REAL_STATE ? state : p.value === FOREIGN_CODE ? code : p.value;
                return `${encode(p.name, p.raw)}=${encode(value, p.raw)}`;
              })
              .join('&');
            const reply = await browser.request(`/auth/kakao/callback${query ? `?${query}` : ''}`);
            assertSafeRedirect(h, reply);
            const me = await browser.request('/me');
            expect(me.status).toBe(401);
          },
        ),
        { numRuns: FUZZ_HTTP_RUNS },
      );
      // The generator must reach the state check and the code exchange often enough to mean something.
      expect(withRealState).toBeGreaterThan(FUZZ_HTTP_RUNS / 4);
      expect(h.emulator.count('token') - exchangesBefore).toBeGreaterThan(FUZZ_HTTP_RUNS / 20);
      // No session and no token record was written: a failed callback leaves nothing half-done (only
      // the markers of consumed states remain).
      const keys = await allKeys(inspector);
      expect(keys.filter((k) => !k.startsWith('kle:st:'))).toEqual([]);
      expect(keys.length).toBeGreaterThan(0);
    },
    timeoutFor(FUZZ_HTTP_RUNS, 40),
  );

  test(
    'a generated returnTo always ends the login on a same-origin path outside the login routes',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            hostileString(8),
            hostileString(6).map((rest) => `/${rest}`),
            fc.webPath(),
            fc.webUrl(),
          ),
          fc.boolean(),
          fc.array(parameter, { maxLength: 2 }),
          async (returnTo, raw, extra) => {
            const browser = new Browser(h.app.url);
            const query = [
              `returnTo=${encode(returnTo, raw)}`,
              ...extra.map((p) => `${encode(p.name, true)}=x`),
            ];
            const start = await startLogin(h, browser, `?${query.join('&')}`);
            expect(start.status < 500).toBe(true);
            if (start.status !== 302 || !start.location!.startsWith(h.emulator.authOrigin)) {
              // The start was refused (or taken for a callback): nothing was logged in.
              assertSafeRedirect(h, start);
              expect((await browser.request('/me')).status).toBe(401);
              return;
            }
            const authorized = await fetch(start.location!, { redirect: 'manual' });
            const callback = new URL(authorized.headers.get('location')!);
            const reply = await browser.request(callback.pathname + callback.search);
            expect(reply.status).toBe(302);
            assertSafeRedirect(h, reply);
            const target = new URL(reply.location!, h.app.url).pathname.toLowerCase();
            expect(target).not.toMatch(/^\/(auth|logout|webhooks)(\/|$)/);
            expect((await browser.request('/me')).status).toBe(200);
          },
        ),
        { numRuns: FUZZ_HTTP_RUNS },
      );
    },
    timeoutFor(FUZZ_HTTP_RUNS, 60),
  );
});
