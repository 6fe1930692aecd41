/**
 * The failover scenario both topologies run: two example-app processes on one Redis topology and an
 * emulator, a bounded login load, refreshes that rotate the refresh token right before (and while)
 * the master dies, a SIGKILL of the master holding the logged-in users' keys, and the figures the
 * issue asks for. Only loopback addresses are used; every loop stops by itself.
 */

import { randomBytes } from 'node:crypto';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { sleep } from '../../lib/util';
import { startAppProcess, type AppProcess } from './app-process';

/** What the scenario needs from a topology. */
export interface FailoverTopology {
  name: 'sentinel' | 'cluster';
  /** REDIS_SENTINELS / REDIS_CLUSTER_NODES … for the app processes. */
  env: Record<string, string>;
  /** Whether the user's token keys (hash tag `{userId}`) live on the master that will be killed. */
  onVictim(userId: string): Promise<boolean>;
  /** SIGKILLs that master. */
  killMaster(): Promise<{ port: number; killedAt: number; lostReplicationBytes?: number }>;
  /** Resolves once a replica has taken over from `killedPort`. */
  waitForPromotion(killedPort: number): Promise<unknown>;
  /** Keys matching `pattern` on the live masters, with their remaining TTL in ms. */
  keys(pattern: string): Promise<{ key: string; pttl: number }[]>;
  /** Deletes keys (to see what a user meets once a stale lock has expired). */
  del(keys: string[]): Promise<void>;
}

export type Route = 'start' | 'callback' | 'me' | 'me/kakao' | 'healthz';

/** One response (or client-side timeout / network error) seen by the load. */
interface Exchange {
  route: Route;
  app: 'a' | 'b';
  /** HTTP status, or 0 for a timeout or network error. */
  status: number;
  outcome: string;
  startedAt: number;
  endedAt: number;
  retryAfter: string | null;
  redisState?: string;
  /** `load`: before the kill and during the failover; `check`: the checks after it. */
  phase: 'load' | 'check';
}

/** The figures of one run. */
export interface FailoverResult {
  topology: string;
  /** Kill → end of the first full login (start, authorize, callback, /me) begun after the kill. */
  recoveryMs: number | null;
  /** Kill → the topology reporting a promoted replica. */
  promotionMs: number | null;
  /** Kill → end of the last response that was not a success. */
  lastFailureMs: number | null;
  /** Responses that ended after the kill, by `route status` (`timeout` / `network` for no response). */
  statuses: Record<string, number>;
  /** Responses before the kill, same keys (all should be successes). */
  statusesBeforeKill: Record<string, number>;
  bare500: number;
  unavailableWithoutRetryAfter: number;
  /** Responses outside each route's allowed statuses (500, 502, 504, 4xx other than the allowed …). */
  unexpected: string[];
  timeouts: number;
  maxLatencyMs: number;
  healthzMaxMs: number;
  healthzStates: Record<string, number>;
  oldLogins: number;
  lostLogins: string[];
  rotatedBeforeKill: number;
  lostRotationsBeforeKill: string[];
  rotatingAtKill: number;
  lostRotationsAtKill: string[];
  loginsDuringFailover: { ok: number; failed: number };
  /** Logins that completed in the last 2 s before the kill and no longer work (allowed, reported). */
  lostRecentLogins: number;
  restarts: number;
  finalHealth: string[];
  /** Replication bytes in flight that the kill destroyed (lagging link only). */
  lostReplicationBytes: number;
  /** From the rotated tokens' 200s to the kill. */
  rotationToKillMs: number;
  /** Refresh locks still held after the failover checks, and the longest remaining TTL. */
  orphanedLocks: number;
  orphanedLockMaxTtlMs: number;
  /** The apps' log lines other than the expected outage events (first 20, deduplicated). */
  appLog: string[];
  /** Requests resent once because a kept-alive connection was reset as it was reused. */
  connectionResets: number;
}

/** The refresh locks (of one user): `kle:l:{<user>}:<session id>`. */
function lockPattern(userId?: string): string {
  return userId === undefined ? 'kle:l*' : `kle:l*{${userId}}*`;
}

/** Client-side limit per request: a request still unanswered after this counts as a hang. */
export const CLIENT_TIMEOUT_MS = 3000;
const HEALTHZ_TIMEOUT_MS = 1500;
const OLD_USERS = 10;
const ROTATED_BEFORE_KILL = 3;
const ROTATING_AT_KILL = 2;
const FRESH_USERS = 8;
/** The users logged in before the load are at least this old at the kill. */
const OLD_AGE_MS = 2200;
/** After recovery the load runs this much longer, to catch late failures. */
const AFTER_RECOVERY_MS = 3000;
/** Hard cap on the load after the kill. */
const MAX_AFTER_KILL_MS = 20_000;
/** Kakao's answer to the refreshes that rotate right before the kill (a slow Kakao). */
const ROTATION_DELAY_MS = 300;
/** Kakao's answer to the refreshes that are in flight when the master dies. */
const IN_FLIGHT_DELAY_MS = 1200;

/**
 * A browser: one cookie jar (the session cookie and the login-transaction cookies; host-only cookies of
 * 127.0.0.1 go to both apps), every cookie sent on every request (their paths cover the requests made).
 */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly userId: string) {}

  get header(): string | undefined {
    return this.cookies.size ? [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  store(lines: string[]): void {
    for (const line of lines) {
      const match = /^([^=;]+)=([^;]*)/.exec(line);
      if (!match) continue;
      if (match[2] === '' || /Expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(match[1]!);
      else this.cookies.set(match[1]!, match[2]!);
    }
  }
}

interface Reply {
  status: number;
  outcome: string;
  location: string | null;
  retryAfter: string | null;
  body: string;
}

/** The `id` of a JSON body as a string (Kakao's /v2/user/me sends a number), or undefined. */
function idOf(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { id?: unknown } | null)?.id;
    return id === undefined || id === null ? undefined : String(id);
  } catch {
    return undefined;
  }
}

/**
 * Runs the scenario. Throws only when the set-up itself fails (apps do not start, logins before the
 * kill fail); everything measured after the kill is returned, for the test to assert.
 */
export async function runFailoverScenario(topology: FailoverTopology): Promise<FailoverResult> {
  const emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
  const apps: AppProcess[] = [];
  try {
    return await run(topology, emulator, apps);
  } finally {
    await Promise.allSettled(apps.map((app) => app.stop()));
    await emulator.close();
  }
}

async function run(
  topology: FailoverTopology,
  emulator: KakaoEmulator,
  apps: AppProcess[],
): Promise<FailoverResult> {
  // Users whose token keys live on the master that dies (for Sentinel: all of them).
  const needed = OLD_USERS + ROTATED_BEFORE_KILL + ROTATING_AT_KILL + FRESH_USERS;
  const users: string[] = [];
  for (let i = 0; users.length < needed && i < needed * 20; i++) {
    const id = String(8_200_000_001 + i);
    if (await topology.onVictim(id)) users.push(id);
  }
  if (users.length < needed) throw new Error(`found only ${users.length} users on the victim master`);
  for (const id of users) emulator.addUser({ id, nickname: `Failover ${id.slice(-3)}` });
  const oldUsers = users.slice(0, OLD_USERS);
  const rotatedBefore = users.slice(OLD_USERS, OLD_USERS + ROTATED_BEFORE_KILL);
  const rotatingAt = users.slice(
    OLD_USERS + ROTATED_BEFORE_KILL,
    OLD_USERS + ROTATED_BEFORE_KILL + ROTATING_AT_KILL,
  );
  const freshUsers = users.slice(OLD_USERS + ROTATED_BEFORE_KILL + ROTATING_AT_KILL);

  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    KAKAO_CLIENT_ID: emulator.clientID,
    KAKAO_AUTH_ORIGIN: emulator.authOrigin,
    KAKAO_API_ORIGIN: emulator.apiOrigin,
    ...topology.env,
  };
  const a = await startAppProcess(env);
  apps.push(a);
  // One registered redirect URI for both, as behind a load balancer (a's default is on localhost).
  const b = await startAppProcess({
    ...env,
    KAKAO_CALLBACK_URL: `${a.url.replace('127.0.0.1', 'localhost')}/auth/kakao/callback`,
  });
  apps.push(b);
  const pids = [a.pid, b.pid];
  const appOf = (name: 'a' | 'b') => (name === 'a' ? a : b);

  const exchanges: Exchange[] = [];
  let connectionResets = 0;
  let phase: Exchange['phase'] = 'load';
  const call = async (
    browser: Browser | undefined,
    app: 'a' | 'b',
    route: Route,
    path: string,
  ): Promise<Reply> => {
    const timeoutMs = route === 'healthz' ? HEALTHZ_TIMEOUT_MS : CLIENT_TIMEOUT_MS;
    const startedAt = Date.now();
    const signal = AbortSignal.timeout(timeoutMs);
    const send = () =>
      fetch(`${appOf(app).url}${path}`, {
        redirect: 'manual',
        headers: browser?.header ? { cookie: browser.header, accept: 'application/json' } : {},
        signal,
      });
    let reply: Reply;
    try {
      let res: Response;
      try {
        res = await send();
      } catch (error) {
        // A kept-alive socket that the server closed as it was reused: browsers resend a GET on a
        // fresh connection, so does this client (counted; the retry's outcome is what counts).
        const code = (error as { cause?: { code?: unknown } }).cause?.code;
        if (!(code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') || signal.aborted) throw error;
        connectionResets++;
        res = await send();
      }
      const body = await res.text();
      browser?.store(res.headers.getSetCookie());
      reply = {
        status: res.status,
        outcome: String(res.status),
        location: res.headers.get('location'),
        retryAfter: res.headers.get('retry-after'),
        body,
      };
    } catch (error) {
      const name = (error as Error).name;
      const cause = (error as { cause?: { code?: unknown } }).cause?.code;
      reply = {
        status: 0,
        outcome: name === 'TimeoutError' ? 'timeout' : `network ${String(cause ?? name)}`,
        location: null,
        retryAfter: null,
        body: '',
      };
    }
    const exchange: Exchange = {
      route,
      app,
      status: reply.status,
      outcome: reply.outcome,
      startedAt,
      endedAt: Date.now(),
      retryAfter: reply.retryAfter,
      phase,
    };
    if (route === 'healthz' && reply.status !== 0) {
      try {
        exchange.redisState = String((JSON.parse(reply.body) as { redis?: unknown }).redis);
      } catch {
        exchange.redisState = 'unparseable';
      }
    }
    if (route === 'callback' && reply.status === 302 && reply.location !== '/')
      exchange.outcome = '302 login_error';
    exchanges.push(exchange);
    return reply;
  };

  /** A full login: start on `startOn`, authorize at the emulator, callback and /me on `callbackOn`. */
  const login = async (browser: Browser, startOn: 'a' | 'b', callbackOn: 'a' | 'b'): Promise<boolean> => {
    const start = await call(browser, startOn, 'start', '/auth/kakao');
    if (start.status !== 302 || !start.location?.startsWith(emulator.authOrigin)) return false;
    const authorize = new URL(start.location);
    authorize.searchParams.set('login_hint', browser.userId);
    let callback: URL;
    try {
      const approved = await fetch(authorize, {
        redirect: 'manual',
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      await approved.arrayBuffer();
      callback = new URL(approved.headers.get('location') ?? '');
    } catch {
      return false;
    }
    const done = await call(browser, callbackOn, 'callback', callback.pathname + callback.search);
    if (done.status !== 302 || done.location !== '/') return false;
    return meWorks(browser, callbackOn);
  };
  const meWorks = async (browser: Browser, app: 'a' | 'b'): Promise<boolean> => {
    const me = await call(browser, app, 'me', '/me');
    return me.status === 200 && idOf(me.body) === browser.userId;
  };
  const kakaoWorks = async (browser: Browser, app: 'a' | 'b'): Promise<{ ok: boolean; outcome: string }> => {
    let reply = await call(browser, app, 'me/kakao', '/me/kakao');
    // After the failover a 503 with Retry-After is "try again", not a lost login: a client that honours
    // it a few times (half a second apart here) must then succeed.
    for (let i = 0; i < 4 && phase === 'check' && reply.status === 503 && reply.retryAfter; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      reply = await call(browser, app, 'me/kakao', '/me/kakao');
    }
    const ok = reply.status === 200 && idOf(reply.body) === browser.userId;
    return { ok, outcome: `${reply.status} ${reply.body.slice(0, 60)}` };
  };

  // Logins that are old at the kill.
  const browsers = new Map<string, Browser>();
  for (const userId of [...oldUsers, ...rotatedBefore, ...rotatingAt]) {
    const browser = new Browser(userId);
    const side = browsers.size % 2 === 0 ? 'a' : 'b';
    if (!(await login(browser, side, 'a')) || !(await kakaoWorks(browser, side)).ok) {
      throw new Error(
        `set-up: the login of ${userId} before the kill failed: ${JSON.stringify(exchanges.slice(-3))}`,
      );
    }
    browsers.set(userId, browser);
  }
  const oldLoginsDoneAt = Date.now();

  // The load: logins of fresh browsers, /me and /me/kakao of the logged-in users (some with an
  // expired access token, so they refresh), /healthz on both apps. `quiet` holds the loops that
  // call Kakao's token endpoint for the few ms it takes to line up the rotating refreshes.
  let stopLoad = false;
  let quiet = false;
  let busy = 0;
  let killedAt = Number.POSITIVE_INFINITY;
  let recoveredAt: number | undefined;
  const logins: { startedAt: number; endedAt: number; ok: boolean; userId: string; browser: Browser }[] = [];
  const loginLoop = async (worker: number) => {
    for (let i = 0; !stopLoad; i++) {
      if (quiet) {
        await sleep(5);
        continue;
      }
      busy++;
      try {
        const userId = freshUsers[(worker * 7 + i) % freshUsers.length]!;
        const browser = new Browser(userId);
        const startedAt = Date.now();
        const ok = await login(browser, i % 2 === 0 ? 'a' : 'b', (i + worker) % 2 === 0 ? 'b' : 'a');
        const endedAt = Date.now();
        logins.push({ startedAt, endedAt, ok, userId, browser });
        if (ok && startedAt >= killedAt && recoveredAt === undefined) recoveredAt = endedAt;
      } finally {
        busy--;
      }
      await sleep(30);
    }
  };
  // Each worker owns its users, so an expiry never lands between another request's refresh and
  // its use of the fresh token (which the emulator would then refuse, unlike Kakao).
  const meLoop = async (worker: number) => {
    const own = oldUsers.filter((_, j) => j % 3 === worker);
    for (let i = 0; !stopLoad; i++) {
      const userId = own[i % own.length]!;
      const browser = browsers.get(userId)!;
      const app = (i + worker) % 2 === 0 ? 'a' : 'b';
      const refresh = i % 5 === 4;
      if (refresh && quiet) {
        await sleep(5);
        continue;
      }
      if (refresh) busy++;
      try {
        if (refresh) emulator.expireAccessTokens(userId);
        await call(browser, app, 'me', '/me');
        await call(browser, app, 'me/kakao', '/me/kakao');
      } finally {
        if (refresh) busy--;
      }
      await sleep(30);
    }
  };
  const healthLoop = async () => {
    for (let i = 0; !stopLoad; i++) {
      await call(undefined, i % 2 === 0 ? 'a' : 'b', 'healthz', '/healthz');
      await sleep(100);
    }
  };
  const load = [loginLoop(0), loginLoop(1), meLoop(0), meLoop(1), meLoop(2), healthLoop()];
  const until = async (what: string, done: () => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`set-up: timed out waiting for ${what}`);
      await sleep(2);
    }
  };
  let killed: Awaited<ReturnType<FailoverTopology['killMaster']>>;
  let rotatedAt: number;
  let promotedAt: number | undefined;
  let rotatingReplies: Promise<unknown>[] = [];
  try {
    const waitOld = oldLoginsDoneAt + OLD_AGE_MS - Date.now();
    if (waitOld > 0) await sleep(waitOld);

    // Refreshes that rotate. Three reach Kakao first and answer 300 ms late (a slow Kakao): their
    // new refresh token is written to the master and the browser has its 200 right before the
    // kill. Two reach Kakao next and answer 1 s late: Kakao has rotated, and their write meets the
    // failover. The load goes on meanwhile (its logins are in flight at the kill).
    for (const userId of [...rotatedBefore, ...rotatingAt]) {
      emulator.setRefreshTokenRemaining(userId, 24 * 3600);
      emulator.expireAccessTokens(userId);
    }
    quiet = true;
    await until('the load to leave the token endpoint', () => busy === 0);
    const base = emulator.count('token');
    emulator.injectFault({
      endpoint: 'token',
      kind: 'delay',
      delayMs: ROTATION_DELAY_MS,
      times: rotatedBefore.length,
    });
    const beforeStart = Date.now();
    const beforeTimes: number[] = [];
    const rotationsBefore = Promise.all(
      rotatedBefore.map((u) =>
        kakaoWorks(browsers.get(u)!, 'a').finally(() => beforeTimes.push(Date.now() - beforeStart)),
      ),
    );
    await until(
      'the first rotating refreshes to reach Kakao',
      () => emulator.count('token') >= base + rotatedBefore.length,
    );
    emulator.injectFault({
      endpoint: 'token',
      kind: 'delay',
      delayMs: IN_FLIGHT_DELAY_MS,
      times: rotatingAt.length,
    });
    const rotatingEarly: string[] = [];
    const rotationStart = Date.now();
    rotatingReplies = rotatingAt.map((u, i) =>
      kakaoWorks(browsers.get(u)!, i % 2 === 0 ? 'a' : 'b').then((r) => {
        rotatingEarly.push(`${r.outcome} after ${Date.now() - rotationStart} ms`);
        return r;
      }),
    );
    await until(
      'the other rotating refreshes to reach Kakao',
      () => emulator.count('token') >= base + rotatedBefore.length + rotatingAt.length,
    );
    quiet = false;
    const rotatedReplies = await rotationsBefore;
    rotatedAt = Date.now();
    const inFlight = rotatingAt.length - rotatingEarly.length;
    const settledEarly = [...rotatingEarly];

    killed = await topology.killMaster();
    killedAt = killed.killedAt;
    if (!rotatedReplies.every((r) => r.ok)) {
      throw new Error(`set-up: a rotating refresh before the kill failed: ${JSON.stringify(rotatedReplies)}`);
    }
    if (inFlight !== rotatingAt.length) {
      throw new Error(
        `set-up: only ${inFlight} of ${rotatingAt.length} rotating refreshes were in flight at the kill ` +
          `(${Date.now() - rotationStart} ms after they started; settled: ${settledEarly.join('; ')}; ` +
          `the earlier rotations took ${beforeTimes.join(', ')} ms; app log: ${apps
            .flatMap((app) => app.output().split('\n'))
            .slice(-8)
            .join(' | ')})`,
      );
    }
    const promotion = topology.waitForPromotion(killed.port).then(
      () => (promotedAt = Date.now()),
      () => undefined,
    );
    while (Date.now() - killedAt < MAX_AFTER_KILL_MS) {
      if (
        recoveredAt !== undefined &&
        promotedAt !== undefined &&
        Date.now() - recoveredAt >= AFTER_RECOVERY_MS
      )
        break;
      await sleep(50);
    }
    await promotion;
  } finally {
    stopLoad = true;
    quiet = false;
    emulator.clearFaults();
    await Promise.allSettled([...load, ...rotatingReplies]);
  }
  phase = 'check';

  // After the failover: every old login still works on both apps, and every rotated refresh token
  // was kept (the next refresh uses it; Kakao has revoked the one before).
  const lostLogins = (
    await Promise.all(
      oldUsers.map(async (userId) => {
        const browser = browsers.get(userId)!;
        const lost: string[] = [];
        for (const app of ['a', 'b'] as const) {
          if (!(await meWorks(browser, app))) lost.push(`${userId} /me on ${app}`);
        }
        const kakao = await kakaoWorks(browser, 'b');
        if (!kakao.ok) {
          const locks = (await topology.keys(lockPattern(userId))).filter((k) => k.pttl > 0);
          lost.push(
            `${userId} /me/kakao: ${kakao.outcome}${locks.length > 0 ? ' (refresh lock still held)' : ''}`,
          );
        }
        return lost;
      }),
    )
  ).flat();
  // Refresh locks taken before the kill and never released (the release met the dead master).
  const orphanedLocks = (await topology.keys(lockPattern())).filter((k) => k.pttl > 0);
  const rotationLost = async (userId: string): Promise<string | undefined> => {
    const browser = browsers.get(userId)!;
    emulator.expireAccessTokens(userId);
    const kakao = await kakaoWorks(browser, 'a');
    if (kakao.ok) return undefined;
    const locks = (await topology.keys(lockPattern(userId))).filter((k) => k.pttl > 0);
    if (locks.length === 0) return `${userId}: ${kakao.outcome}`;
    // Blocked by a refresh lock that outlived the failover: clear it, as its expiry would, to
    // tell a kept token (blocked for the lock's TTL) from a lost one.
    await topology.del(locks.map((k) => k.key));
    const again = await kakaoWorks(browser, 'a');
    const verdict = again.ok ? 'token kept' : `token lost too: ${again.outcome}`;
    return `${userId}: ${kakao.outcome} (its refresh lock is still held, ${Math.max(...locks.map((k) => k.pttl))} ms left; ${verdict})`;
  };
  const lostRotationsBeforeKill = (await Promise.all(rotatedBefore.map(rotationLost))).filter(
    (x): x is string => x !== undefined,
  );
  const lostRotationsAtKill = (await Promise.all(rotatingAt.map(rotationLost))).filter(
    (x): x is string => x !== undefined,
  );
  const recent = logins.filter((l) => l.ok && l.endedAt < killedAt && l.endedAt > killedAt - OLD_AGE_MS);
  const lostRecentLogins = (await Promise.all(recent.map((l) => meWorks(l.browser, 'a')))).filter(
    (ok) => !ok,
  ).length;
  const finalHealth: string[] = [];
  for (const app of ['a', 'b'] as const) {
    const reply = await call(undefined, app, 'healthz', '/healthz');
    finalHealth.push(`${reply.status} ${reply.body}`);
  }
  const restarts = apps.filter((app, i) => app.exited() || app.pid !== pids[i]).length;
  // What the apps logged besides the expected outage events (unexpected errors, stack traces),
  // without timestamps, counted.
  const logCounts = new Map<string, number>();
  for (const line of apps.flatMap((app) => app.output().split('\n'))) {
    const text = line.replace(/"time":"[^"]*",/, '').trim();
    if (text === '' || /^(development:|warning \(|listening on )/.test(text)) continue;
    if (
      /"event":"(redis_unavailable|redis_recovered|request_failed|session_ended|login_start_failed)"/.test(
        text,
      )
    )
      continue;
    logCounts.set(text.slice(0, 300), (logCounts.get(text.slice(0, 300)) ?? 0) + 1);
  }
  const appLog = [...logCounts].slice(0, 20).map(([text, n]) => `${n}× ${text}`);
  return summarize({
    topology: topology.name,
    exchanges,
    killedAt,
    recoveredAt,
    promotedAt,
    logins,
    lostLogins,
    lostRotationsBeforeKill,
    lostRotationsAtKill,
    lostRecentLogins,
    restarts,
    finalHealth,
    lostReplicationBytes: killed.lostReplicationBytes ?? 0,
    rotationToKillMs: killedAt - rotatedAt,
    orphanedLocks: orphanedLocks.length,
    orphanedLockMaxTtlMs: Math.max(0, ...orphanedLocks.map((k) => k.pttl)),
    appLog,
    connectionResets,
  });
}

/** Statuses each route may answer during a failover; anything else is unexpected. */
const ALLOWED: Record<Route, ReadonlySet<string>> = {
  start: new Set(['302', '503']),
  callback: new Set(['302', '302 login_error', '503']),
  me: new Set(['200', '503']),
  'me/kakao': new Set(['200', '503']),
  healthz: new Set(['200', '503']),
};

function summarize(input: {
  topology: string;
  exchanges: Exchange[];
  killedAt: number;
  recoveredAt: number | undefined;
  promotedAt: number | undefined;
  logins: { startedAt: number; endedAt: number; ok: boolean }[];
  lostLogins: string[];
  lostRotationsBeforeKill: string[];
  lostRotationsAtKill: string[];
  lostRecentLogins: number;
  restarts: number;
  finalHealth: string[];
  lostReplicationBytes: number;
  rotationToKillMs: number;
  orphanedLocks: number;
  orphanedLockMaxTtlMs: number;
  appLog: string[];
  connectionResets: number;
}): FailoverResult {
  const { exchanges, killedAt } = input;
  const count = (list: Exchange[]) => {
    const out: Record<string, number> = {};
    for (const e of list) out[`${e.route} ${e.outcome}`] = (out[`${e.route} ${e.outcome}`] ?? 0) + 1;
    return Object.fromEntries(Object.entries(out).sort());
  };
  const load = exchanges.filter((e) => e.phase === 'load');
  const after = load.filter((e) => e.endedAt >= killedAt);
  const failures = after.filter((e) => !(e.status === 200 || (e.status === 302 && e.outcome === '302')));
  const healthz = exchanges.filter((e) => e.route === 'healthz');
  const healthzStates: Record<string, number> = {};
  for (const e of healthz.filter((x) => x.endedAt >= killedAt)) {
    const key = `${e.outcome} ${e.redisState ?? ''}`.trim();
    healthzStates[key] = (healthzStates[key] ?? 0) + 1;
  }
  const afterKill = input.logins.filter((l) => l.startedAt >= killedAt);
  return {
    topology: input.topology,
    recoveryMs: input.recoveredAt === undefined ? null : input.recoveredAt - killedAt,
    promotionMs: input.promotedAt === undefined ? null : input.promotedAt - killedAt,
    lastFailureMs: failures.length === 0 ? null : Math.max(...failures.map((e) => e.endedAt)) - killedAt,
    statuses: count(after),
    statusesBeforeKill: count(load.filter((e) => e.endedAt < killedAt)),
    bare500: exchanges.filter((e) => e.status === 500).length,
    unavailableWithoutRetryAfter: exchanges.filter((e) => e.status === 503 && !e.retryAfter).length,
    unexpected: [
      ...new Set(load.filter((e) => !ALLOWED[e.route].has(e.outcome)).map((e) => `${e.route} ${e.outcome}`)),
    ],
    timeouts: exchanges.filter((e) => e.outcome === 'timeout').length,
    maxLatencyMs: Math.max(
      0,
      ...exchanges.filter((e) => e.route !== 'healthz').map((e) => e.endedAt - e.startedAt),
    ),
    healthzMaxMs: Math.max(0, ...healthz.map((e) => e.endedAt - e.startedAt)),
    healthzStates,
    oldLogins: OLD_USERS,
    lostLogins: input.lostLogins,
    rotatedBeforeKill: ROTATED_BEFORE_KILL,
    lostRotationsBeforeKill: input.lostRotationsBeforeKill,
    rotatingAtKill: ROTATING_AT_KILL,
    lostRotationsAtKill: input.lostRotationsAtKill,
    loginsDuringFailover: {
      ok: afterKill.filter((l) => l.ok).length,
      failed: afterKill.filter((l) => !l.ok).length,
    },
    lostRecentLogins: input.lostRecentLogins,
    restarts: input.restarts,
    finalHealth: input.finalHealth,
    lostReplicationBytes: input.lostReplicationBytes,
    rotationToKillMs: input.rotationToKillMs,
    orphanedLocks: input.orphanedLocks,
    orphanedLockMaxTtlMs: input.orphanedLockMaxTtlMs,
    appLog: input.appLog,
    connectionResets: input.connectionResets,
  };
}

/** The one parseable line for the README: `FAILOVER_RESULT {json}`. */
export function resultLine(result: FailoverResult): string {
  const figures = {
    topology: result.topology,
    recoverySeconds: result.recoveryMs === null ? null : Number((result.recoveryMs / 1000).toFixed(2)),
    promotionSeconds: result.promotionMs === null ? null : Number((result.promotionMs / 1000).toFixed(2)),
    lastFailureSeconds:
      result.lastFailureMs === null ? null : Number((result.lastFailureMs / 1000).toFixed(2)),
    statuses: result.statuses,
    bare500: result.bare500,
    unavailableWithoutRetryAfter: result.unavailableWithoutRetryAfter,
    unexpected: result.unexpected,
    timeouts: result.timeouts,
    maxLatencyMs: result.maxLatencyMs,
    healthzMaxMs: result.healthzMaxMs,
    healthzStates: result.healthzStates,
    lostLogins: result.lostLogins.length,
    oldLogins: result.oldLogins,
    lostRotationsBeforeKill: result.lostRotationsBeforeKill.length,
    lostRotationsAtKill: result.lostRotationsAtKill.length,
    loginsDuringFailover: result.loginsDuringFailover,
    lostRecentLogins: result.lostRecentLogins,
    restarts: result.restarts,
    lostReplicationBytes: result.lostReplicationBytes,
    rotationToKillMs: result.rotationToKillMs,
    orphanedLocks: result.orphanedLocks,
    orphanedLockMaxTtlMs: result.orphanedLockMaxTtlMs,
    connectionResets: result.connectionResets,
  };
  return `FAILOVER_RESULT ${JSON.stringify(figures)}`;
}
