/* global URL, setTimeout */
// The login flows the driver runs against each app, and the concurrent loop that times them.
import { performance } from 'node:perf_hooks';
import { CookieJar, createAgent, get } from './http.mjs';

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

/**
 * One complete login for `userId`: start → emulator authorize (auto-approve 302) → callback (code exchange,
 * profile fetch, session, token storage) → GET /me. Resolves with the app's cookie jar.
 * @param {{ kind: 'kle' | 'incumbent' | 'bare', url: string }} app
 */
export async function loginOnce(app, userId, agent) {
  const jar = new CookieJar();
  if (app.kind === 'bare') {
    // The synthetic login of the baseline: no OAuth at all, only the session write and passport.
    const start = expectStatus(
      await get(`${app.url}/login?id=${encodeURIComponent(userId)}`, jar, agent),
      302,
      'bare login',
    );
    location(start, app.url, 'bare login');
  } else {
    const start = expectStatus(await get(`${app.url}/auth/kakao`, jar, agent), 302, 'login start');
    const authorize = new URL(location(start, app.url, 'login start'));
    // The driver picks the Kakao account, so that logins spread over many users for every app alike.
    if (!authorize.searchParams.has('login_hint')) authorize.searchParams.set('login_hint', userId);
    // A fresh emulator session each time (no emulator cookies): auto-approve signs in the hinted user.
    const approved = expectStatus(await get(authorize.href, undefined, agent), 302, 'authorize');
    const callbackUrl = location(approved, authorize.href, 'authorize');
    if (!callbackUrl.startsWith(app.url)) throw new Error(`authorize: redirected elsewhere: ${callbackUrl}`);
    const callback = expectStatus(await get(callbackUrl, jar, agent), 302, 'callback');
    const target = location(callback, app.url, 'callback');
    if (target.includes('login_error') || target.includes('error')) {
      throw new Error(`callback: login failed (${new URL(target).search})`);
    }
  }
  const me = expectStatus(await get(`${app.url}/me`, jar, agent), 200, 'GET /me');
  const id = String(JSON.parse(me.body).id);
  if (id !== userId) throw new Error(`GET /me: expected user ${userId}, got ${id}`);
  completedLogins.set(app.url, (completedLogins.get(app.url) ?? 0) + 1);
  return jar;
}

/**
 * Runs login flows with `concurrency` workers until `seconds` have passed (or `maxLogins` completed).
 * Resolves with `{ logins, errors, seconds, perSecond, durations }` (durations in ms, one per login).
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
