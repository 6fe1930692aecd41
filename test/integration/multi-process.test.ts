import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { navigate } from '../helpers/navigate';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';

const ROOT = join(__dirname, '..', '..');
const SERVER_JS = join(ROOT, 'example-app', 'build', 'server.js');
const LIBRARY_JS = join(ROOT, 'dist', 'index.js');
const USERS = Array.from({ length: 50 }, (_, i) => String(7_000_000_001 + i));

/** A running `node example-app/build/server.js`. */
interface AppProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the built example app with `env` and waits for its "listening on" line. */
async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, [SERVER_JS], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Kills the app should this test process die without running afterAll.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null',
      'app-watchdog',
      String(process.pid),
      String(child.pid ?? 0),
    ],
    { stdio: 'ignore', detached: true },
  );
  watchdog.unref();
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    watchdog.kill('SIGKILL');
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (match) return { url: match[1]!, child, output: () => output, stop };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`the example app did not start:\n${output}`);
}

/**
 * One browser: a cookie jar (host-only cookies of 127.0.0.1 are shared by every port, as browsers do;
 * the paths in play all cover the requests made here) that navigates like a browser does.
 */
class Browser {
  readonly #cookies = new Map<string, string>();

  async get(url: string): Promise<Response> {
    const cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const res = await navigate(url, cookie ? { cookie } : {});
    for (const line of res.headers.getSetCookie()) {
      const match = /^([^=;]+)=([^;]*)/.exec(line);
      if (!match) continue;
      if (match[2] === '' || /Expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(match[1]!);
      else this.#cookies.set(match[1]!, match[2]!);
    }
    return res;
  }

  /** Starts a login on `startOn`, authorizes as `userId` at the emulator and calls back on `callbackOn`. */
  async login(startOn: string, callbackOn: string, userId: string): Promise<Response> {
    const start = await this.get(`${startOn}/auth/kakao`);
    if (start.status !== 302) throw new Error(`login start answered ${start.status}`);
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('login_hint', userId);
    const approved = await fetch(authorize, { redirect: 'manual' });
    const callback = new URL(approved.headers.get('location')!);
    return this.get(`${callbackOn}${callback.pathname}${callback.search}`);
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at a time; collects every failure. */
async function pool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        await task(i).catch((error: unknown) => failures.push(error));
      }
    }),
  );
  return failures;
}

describe('two example-app processes sharing one Redis', () => {
  let redis: RedisServerHandle;
  let emulator: KakaoEmulator;
  let a: AppProcess;
  let b: AppProcess;

  beforeAll(async () => {
    for (const file of [SERVER_JS, LIBRARY_JS]) {
      if (!existsSync(file)) {
        throw new Error(
          `${file} is missing: run "npm run build" before this test (it starts the built example app).`,
        );
      }
    }
    redis = await startRedisServer();
    emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
    for (const id of USERS) emulator.addUser({ id, nickname: `Load ${id.slice(-3)}` });
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      KAKAO_CLIENT_ID: emulator.clientID,
      KAKAO_AUTH_ORIGIN: emulator.authOrigin,
      KAKAO_API_ORIGIN: emulator.apiOrigin,
    };
    a = await startAppProcess(env);
    // One registered redirect URI for both processes, as behind a load balancer.
    // (a's default redirect URI is on localhost with its real port.)
    b = await startAppProcess({
      ...env,
      KAKAO_CALLBACK_URL: `${a.url.replace('127.0.0.1', 'localhost')}/auth/kakao/callback`,
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await emulator?.close();
    await redis?.kill();
  });

  test('a login started on one process and called back on the other succeeds on both', async () => {
    const browser = new Browser();
    const done = await browser.login(a.url, b.url, USERS[0]!);
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('/');
    for (const app of [a, b]) {
      const me = await browser.get(`${app.url}/me`);
      expect(me.status).toBe(200);
      await expect(me.json()).resolves.toMatchObject({ id: USERS[0] });
    }
    const kakao = await browser.get(`${b.url}/me/kakao`);
    expect(kakao.status).toBe(200);
  });

  test('200 logins at concurrency 50 over both processes all succeed, each seeing its own user', async () => {
    const apps = [a, b];
    const seen: string[] = [];
    const failures = await pool(200, 50, async (i) => {
      const userId = USERS[i % USERS.length]!;
      const browser = new Browser();
      const done = await browser.login(apps[i % 2]!.url, apps[(i >> 1) % 2]!.url, userId);
      if (done.status !== 302 || done.headers.get('location') !== '/') {
        throw new Error(`login ${i} ended with ${done.status} ${done.headers.get('location')}`);
      }
      for (const app of apps) {
        const me = await browser.get(`${app.url}/me`);
        const body = (await me.json()) as { id?: string };
        if (me.status !== 200 || body.id !== userId) {
          throw new Error(`login ${i} as ${userId}: /me on ${app.url} answered ${me.status} ${body.id}`);
        }
        seen.push(body.id);
      }
    });
    expect(failures).toEqual([]);
    expect(seen).toHaveLength(400);
    expect(new Set(seen).size).toBe(USERS.length);
    expect(a.output() + b.output()).not.toMatch(/"level":"error"|unexpected_error/);
  }, 120_000);

  test('concurrent token refreshes across both processes make one refresh call', async () => {
    const userId = USERS[1]!;
    const browser = new Browser();
    expect((await browser.login(a.url, a.url, userId)).status).toBe(302);
    emulator.expireAccessTokens(userId);
    emulator.resetRequests();
    // A slow token endpoint keeps the refresh in flight while every request runs into the -401.
    emulator.injectFault({ endpoint: 'token', kind: 'delay', delayMs: 300, times: 1 });

    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => browser.get(`${[a, b][i % 2]!.url}/me/kakao`)),
    );
    const statuses = replies.map((r) => r.status);
    const bodies = (await Promise.all(replies.map((r) => r.json()))) as { id?: unknown }[];

    expect(statuses).toEqual(Array(20).fill(200));
    for (const body of bodies) expect(String(body.id)).toBe(userId);
    const refreshes = emulator.requests.filter(
      (r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token',
    );
    expect(refreshes).toHaveLength(1);
  }, 30_000);
});
