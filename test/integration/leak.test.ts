import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Redis from 'ioredis';
import { loadConfig } from '../../example-app/config';
import { startExampleApp } from '../../example-app/server';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { loginCount } from '../helpers/user-logins';

const ROOT = join(__dirname, '..', '..');
/** Logins in the heap test, warm-up included. */
const LOGINS = Number(process.env.LEAK_LOGINS ?? 10_000);
/**
 * Logins before the baseline: the heap grows by a few MB once (connection pools, optimized code,
 * caches filling to their bounds) and is flat after about 2000.
 */
const WARM_UP = Math.round(LOGINS / 5);
const CHUNK = 1000;
/** Logins in the logout and abandoned-login test. */
const ABANDONED = 500;
const CONCURRENCY = 24;
/** Allowed heap growth after the warm-up: 256 bytes per login (at least 2 MB, for GC noise). */
const HEAP_MARGIN_BYTES = Math.max(2 * 1024 * 1024, (LOGINS - WARM_UP) * 256);
const SESSION_MAX_AGE_S = 30 * 60;
/** The absolute login lifetime: no token record or tombstone outlives it (+1 s: TTLs are whole seconds). */
const LOGIN_LIFETIME_S = 12 * 3600 + 1;
/** Consumed login states live at most the transaction lifetime. */
const STATE_TTL_S = 600;
/** Users the driver logs in (each login of one user is a login of its own). */
const USERS = 100;
const MAX_LOGINS_PER_USER = 50;

/**
 * The emulator and the virtual users run in a child process: the emulator keeps every token it ever
 * issued (issuedSecrets) and the clients keep connection pools, neither of which may count against the
 * heap under test; it also leaves this process's CPU to the app.
 */
interface Driver {
  url: string;
  clientID: string;
  /** Runs `count` login cycles against `appUrl` at `concurrency`; resolves with the failures. */
  run(appUrl: string, count: number, mode: CycleMode): Promise<{ failures: string[]; elapsedMs: number }>;
  stop(): Promise<void>;
}

/** `logout`: log in and out; `stay`: log in; `abandon`: start a login and never come back. */
type CycleMode = 'logout' | 'stay' | 'abandon';

const DRIVER_SCRIPT = `
require('ts-node').register({ transpileOnly: true });
const { createKakaoEmulator } = require('./lib/testing/index.ts');

const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// node:http rather than fetch: fetch sends Sec-Fetch-Mode: cors, and a login start must be a navigation.
async function cycle(appUrl, mode, userId) {
  const jar = new Map();
  const request = (url, method = 'GET', headers = {}) =>
    new Promise((resolve, reject) => {
      const cookie = [...jar].map(([k, v]) => k + '=' + v).join('; ');
      const req = http.request(url, { method, agent, headers: { ...headers, ...(cookie && { cookie }) } }, (res) => {
        for (const line of res.headers['set-cookie'] || []) {
          const [pair, ...attributes] = line.split(';');
          const eq = pair.indexOf('=');
          const name = pair.slice(0, eq).trim();
          const value = pair.slice(eq + 1).trim();
          if (value === '' || attributes.some((a) => /max-age=0|expires=thu, 01 jan 1970/i.test(a))) jar.delete(name);
          else jar.set(name, value);
        }
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  const start = await request(appUrl + '/auth/kakao');
  if (start.status !== 302) throw new Error('login start answered ' + start.status);
  if (mode === 'abandon') return;
  const authorize = new URL(start.location);
  authorize.searchParams.set('login_hint', userId);
  const approved = await fetch(authorize, { redirect: 'manual' });
  await approved.arrayBuffer();
  const callback = new URL(approved.headers.get('location'));
  const done = await request(appUrl + callback.pathname + callback.search);
  if (done.status !== 302 || done.location !== '/') {
    throw new Error('callback answered ' + done.status + ' ' + done.location);
  }
  if (mode === 'logout') {
    // The example app's origin is its default callback URL's, http://localhost:<port>.
    const out = await request(appUrl + '/logout', 'POST', { origin: appUrl.replace('127.0.0.1', 'localhost') });
    if (out.status !== 302) throw new Error('logout answered ' + out.status);
  }
}

createKakaoEmulator({ autoApprove: true, tokenRateLimit: false, maxRequestLog: 100 }).then((emulator) => {
  const users = [];
  for (let i = 0; i < ${USERS}; i++) users.push(emulator.addUser({ id: String(8000000001 + i) }).id);
  process.on('message', async ({ appUrl, count, concurrency, mode }) => {
    const failures = [];
    const started = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        await cycle(appUrl, mode, users[i % users.length]).catch((e) => failures.push(String(e && e.message)));
      }
    }));
    process.send({ failures: failures.slice(0, 10), failed: failures.length, elapsedMs: Date.now() - started });
  });
  process.on('disconnect', () => emulator.close().then(() => process.exit(0)));
  process.send({ url: emulator.url, clientID: emulator.clientID });
});
`;

async function startDriver(): Promise<Driver> {
  // The IPC channel closes when this test process dies, and the driver then exits by itself.
  const child = spawn(process.execPath, ['-e', DRIVER_SCRIPT], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  const ready = await new Promise<{ url: string; clientID: string } | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as { url: string; clientID: string });
    });
    child.once('exit', () => resolve(undefined));
  });
  if (!ready) {
    await stop();
    throw new Error(`the emulator process did not start:\n${output}`);
  }
  const run: Driver['run'] = (appUrl, count, mode) =>
    new Promise((resolve) => {
      child.once('message', (message) => {
        const { failures, failed, elapsedMs } = message as {
          failures: string[];
          failed: number;
          elapsedMs: number;
        };
        resolve({ failures: failed > 0 ? [`${failed} failed`, ...failures] : [], elapsedMs });
      });
      child.send({ appUrl, count, concurrency: CONCURRENCY, mode });
    });
  return { ...ready, run, stop };
}

/** A full garbage collection, twice so that finalizers and weak references settle. */
const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

function settledHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function appEnv(emulator: Driver, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    KAKAO_CLIENT_ID: emulator.clientID,
    KAKAO_AUTH_ORIGIN: emulator.url,
    KAKAO_API_ORIGIN: emulator.url,
    ...extra,
  };
}

describe('no leaks over many logins', () => {
  let driver: Driver;
  let redis: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    [driver, redis] = await Promise.all([startDriver(), startRedisServer()]);
    client = new Redis(redis.url);
  }, 40_000);
  afterAll(async () => {
    client?.disconnect();
    await driver?.stop();
    await redis?.kill();
  });

  /** Every key in the private Redis with its TTL in seconds (-1: none). */
  async function keysWithTtl(): Promise<Map<string, number>> {
    const keys = await client.keys('*');
    const ttls = await Promise.all(keys.map((key) => client.ttl(key)));
    return new Map(keys.map((key, i) => [key, ttls[i]!]));
  }

  test(`${LOGINS} logins in one process leave the heap where it was, and every Redis key expires`, async () => {
    const app = await startExampleApp(loadConfig(appEnv(driver, { REDIS_URL: redis.url })), {
      logger: () => {},
      log: () => {},
    });
    try {
      const warmUp = await driver.run(app.url, WARM_UP, 'stay');
      expect(warmUp.failures).toEqual([]);
      // Heap after each chunk: a leak shows as a steady climb, one-off growth (pools, JIT) does not.
      const samples = [settledHeap()];
      let elapsedMs = warmUp.elapsedMs;
      for (let done = WARM_UP; done < LOGINS; done += CHUNK) {
        const result = await driver.run(app.url, Math.min(CHUNK, LOGINS - done), 'stay');
        expect(result.failures).toEqual([]);
        elapsedMs += result.elapsedMs;
        samples.push(settledHeap());
      }
      const growth = samples[samples.length - 1]! - samples[0]!;
      console.log(
        `leak: ${LOGINS} logins in ${elapsedMs} ms; heap after each ${CHUNK}: ${samples.map((b) => (b / 1e6).toFixed(1)).join(', ')} MB (${(growth / (LOGINS - WARM_UP)) | 0} B/login after the warm-up)`,
      );
      expect(growth).toBeLessThan(HEAP_MARGIN_BYTES);

      // A user keeps at most 50 logins (the oldest end): one session each, one token hash per user,
      // a consumed-state marker per login for 10 minutes and a tombstone per ended login; all expire.
      const keys = await keysWithTtl();
      const live = Math.min(LOGINS, USERS * MAX_LOGINS_PER_USER);
      const family = (prefix: string) => [...keys].filter(([key]) => key.startsWith(prefix));
      expect(family('kle:sess:')).toHaveLength(live);
      expect(family('kle:u:{')).toHaveLength(USERS);
      for (const [key] of family('kle:u:{'))
        expect(await loginCount(client, key)).toBeLessThanOrEqual(MAX_LOGINS_PER_USER);
      expect(family('kle:st:').length).toBeLessThanOrEqual(LOGINS);
      expect(family('kle:e:{')).toHaveLength(LOGINS - live);
      expect(keys.size).toBe(live + USERS + family('kle:st:').length + (LOGINS - live));
      for (const [key, ttl] of keys) {
        expect([key, ttl > 0]).toEqual([key, true]);
        if (key.startsWith('kle:sess:')) expect(ttl).toBeLessThanOrEqual(SESSION_MAX_AGE_S);
        else if (key.startsWith('kle:st:')) expect(ttl).toBeLessThanOrEqual(STATE_TTL_S);
        else expect(ttl).toBeLessThanOrEqual(LOGIN_LIFETIME_S);
      }
    } finally {
      await app.close();
      await client.flushall();
    }
  }, 300_000);

  test('logins followed by logouts bring the Redis key count back, and abandoned logins expire', async () => {
    const app = await startExampleApp(loadConfig(appEnv(driver, { REDIS_URL: redis.url })), {
      logger: () => {},
      log: () => {},
    });
    try {
      const baseline = await client.dbsize();
      expect(await driver.run(app.url, ABANDONED, 'logout')).toMatchObject({ failures: [] });
      // No session and no token record remains; only the logout tombstones (R67, as long as the
      // login could have lasted) and the consumed states (10 minutes), and both expire.
      const afterLogout = await keysWithTtl();
      const lasting = [...afterLogout.keys()].filter(
        (key) => !key.startsWith('kle:e:{') && !key.startsWith('kle:st:'),
      );
      expect(lasting).toEqual([]);
      const tombstones = [...afterLogout].filter(([key]) => key.startsWith('kle:e:{'));
      expect(tombstones).toHaveLength(ABANDONED);
      for (const [, ttl] of tombstones) {
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(LOGIN_LIFETIME_S);
      }
      for (const [key, ttl] of afterLogout)
        if (key.startsWith('kle:st:')) expect(ttl).toBeLessThanOrEqual(STATE_TTL_S);
      expect(baseline).toBe(0);

      // A login start writes nothing to Redis (the transaction lives in a cookie): abandoned logins
      // leave no key at all.
      const before = await client.dbsize();
      expect(await driver.run(app.url, ABANDONED, 'abandon')).toMatchObject({ failures: [] });
      await expect(client.dbsize()).resolves.toBe(before);
    } finally {
      await app.close();
    }
  }, 120_000);
});
