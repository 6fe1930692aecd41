/* global URL, setTimeout */
// The login flows the driver runs against each app, and the concurrent loops that time them.
import { performance } from 'node:perf_hooks';
import { CookieJar, NAVIGATION_HEADERS, createAgent, get } from './http.mjs';

function expectStatus(res, status, step) {
  if (res.status !== status) {
    throw new Error(`${step}: expected ${status}, got ${res.status} ${res.body.slice(0, 200)}`);
  }
  return res;
}

function location(res, base, step) {
  const loc = res.headers.location;
  if (!loc) throw new Error(`${step}: no Location header`);
  return new URL(loc, base).href;
}

/** Completed logins per app URL over the whole run (profiles cover the whole run, warm-up included). */
export const completedLogins = new Map();

/** The Kakao redirect back to the app is a cross-site top-level navigation. */
const CALLBACK_HEADERS = Object.freeze({ ...NAVIGATION_HEADERS, 'sec-fetch-site': 'cross-site' });

/**
 * One complete login for `userId`, as a browser does it: start → emulator authorize (auto-approve 302) →
 * callback (code exchange, profile fetch, session, token storage) → GET /me. Resolves with the app's
 * cookie jar. `afterStep(name)` (optional) is awaited after each step: `start`, `authorize`,
 * `callback`, `me` (`login`, `me` for the bare app).
 * @param {{ kind: 'kle' | 'incumbent' | 'bare', url: string }} app
 * @param {string} userId
 * @param {import('node:http').Agent} agent
 * @param {{ afterStep?: (step: string) => Promise<void> }} [options]
 */
export async function loginOnce(app, userId, agent, { afterStep } = {}) {
  const jar = new CookieJar();
  if (app.kind === 'bare') {
    // The synthetic login of the baseline: no OAuth at all, only the session write and passport.
    const start = expectStatus(
      await get(`${app.url}/login?id=${encodeURIComponent(userId)}`, jar, agent, NAVIGATION_HEADERS),
      302,
      'bare login',
    );
    location(start, app.url, 'bare login');
    await afterStep?.('login');
  } else {
    const start = expectStatus(
      await get(`${app.url}/auth/kakao`, jar, agent, NAVIGATION_HEADERS),
      302,
      'login start',
    );
    await afterStep?.('start');
    const authorize = new URL(location(start, app.url, 'login start'));
    // The driver picks the Kakao account, so that logins spread over many users for every app alike.
    if (!authorize.searchParams.has('login_hint')) authorize.searchParams.set('login_hint', userId);
    // A fresh emulator session each time (no emulator cookies): auto-approve signs in the hinted user.
    const approved = expectStatus(await get(authorize.href, undefined, agent), 302, 'authorize');
    await afterStep?.('authorize');
    const callbackUrl = location(approved, authorize.href, 'authorize');
    if (!callbackUrl.startsWith(app.url)) throw new Error(`authorize: redirected elsewhere: ${callbackUrl}`);
    const callback = expectStatus(await get(callbackUrl, jar, agent, CALLBACK_HEADERS), 302, 'callback');
    await afterStep?.('callback');
    const target = location(callback, app.url, 'callback');
    if (target.includes('login_error') || target.includes('error')) {
      throw new Error(`callback: login failed (${new URL(target).search})`);
    }
  }
  const me = expectStatus(await get(`${app.url}/me`, jar, agent), 200, 'GET /me');
  await afterStep?.('me');
  const id = String(JSON.parse(me.body).id);
  if (id !== userId) throw new Error(`GET /me: expected user ${userId}, got ${id}`);
  completedLogins.set(app.url, (completedLogins.get(app.url) ?? 0) + 1);
  return jar;
}

/**
 * Runs login flows with `concurrency` workers until `seconds` have passed (or `maxLogins` completed).
 * A login that fails anywhere (unexpected status, socket error, timeout, wrong user) counts as an error
 * and not as a login. Resolves with `{ logins, errors, seconds, perSecond, durations }` (durations in
 * ms, one per completed login).
 */
export async function loginLoop(app, { concurrency, seconds, maxLogins = Infinity, nextUser, firstError }) {
  const agent = createAgent(concurrency * 2);
  const durations = [];
  let errors = 0;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline && started < maxLogins) {
      started++;
      const begin = performance.now();
      try {
        await loginOnce(app, nextUser(), agent);
        durations.push(performance.now() - begin);
      } catch (err) {
        errors++;
        if (errors === 1) firstError?.(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return {
    logins: durations.length,
    errors,
    seconds: elapsed,
    perSecond: durations.length / elapsed,
    durations,
  };
}

/**
 * `n` login starts that are never finished (`GET /auth/kakao` from browsers without cookies, as a flood
 * of `<a>` clicks or a crawler would send them), `concurrency` at a time. Resolves with the status
 * counts, socket errors and the mean size of the Set-Cookie headers the starts answered with.
 */
export async function abandonStarts(app, { n, concurrency }) {
  const agent = createAgent(concurrency);
  const statuses = {};
  let errors = 0;
  let cookieBytes = 0;
  let cookies = 0;
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      try {
        const res = await get(`${app.url}/auth/kakao`, undefined, agent, NAVIGATION_HEADERS);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        for (const line of res.headers['set-cookie'] ?? []) {
          cookies++;
          cookieBytes += line.length;
        }
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { n, statuses, errors, cookiesPerStart: cookies / n, setCookieBytesPerStart: cookieBytes / n };
}

/** Waits until the app answers; for the example app, until /healthz says Redis is connected. */
export async function waitReady(app, timeoutMs = 10_000) {
  const agent = createAgent(1);
  const deadline = performance.now() + timeoutMs;
  try {
    for (;;) {
      const res = await get(`${app.url}${app.kind === 'kle' ? '/healthz' : '/me'}`, undefined, agent).catch(
        () => undefined,
      );
      if (res && (res.status === 200 || (app.kind !== 'kle' && res.status === 401))) return;
      if (performance.now() > deadline) throw new Error(`${app.url} not ready after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    agent.destroy();
  }
}
