/**
 * Rotating the token key without logging anyone out (issue 10.4), with example-app processes (the built
 * app, as child processes) sharing this file's own Redis, in a rolling deploy: each phase starts the new
 * processes before the old ones stop, and requests alternate over every live process, with refreshes
 * forced through the emulator.
 *
 *   phase 1: A [k1,k2], B [k1,k2]   (k2 deployed decrypt-only everywhere)
 *   phase 2: A [k2,k1], B [k1,k2]   (A seals with k2; B still opens k2)
 *   phase 3: A [k2,k1], B [k2,k1]   (every record re-sealed with k2 as it is read)
 *   phase 4: A [k2],    B [k2]      (k1 retired)
 *
 * Then the wrong order (B has only k1 while A seals with k2): B answers 503 ERR_KAKAO_TOKEN_KEY_UNKNOWN
 * and deletes nothing, A keeps working; tampering under a known key still deletes and ends the login.
 * Finally, a ring with one kid twice or one key under two ids keeps the app from starting.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import {
  Browser,
  expectStartRefused,
  requireBuild,
  startAppProcess,
  type AppProcess,
} from '../helpers/app-process';
import { inspector, quitIoredis } from '../helpers/redis-clients';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { hasLogin, loginValue, putLogin, storedLogins } from '../helpers/user-logins';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
const RING = {
  'k1,k2': `k1:${K1},k2:${K2}`,
  'k2,k1': `k2:${K2},k1:${K1}`,
  k2: `k2:${K2}`,
  k1: `k1:${K1}`,
} as const;
type Ring = keyof typeof RING;

let redis: RedisServerHandle;
let inspect: Redis;
let emulator: KakaoEmulator;
const live = new Set<AppProcess>();
let base: Record<string, string>;

beforeAll(async () => {
  requireBuild();
  redis = await startRedisServer();
  inspect = (await inspector({ url: redis.url })) as Redis;
  emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
  base = {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    KAKAO_CLIENT_ID: emulator.clientID,
    KAKAO_AUTH_ORIGIN: emulator.authOrigin,
    KAKAO_API_ORIGIN: emulator.apiOrigin,
  };
}, 30_000);

afterAll(async () => {
  await Promise.allSettled([...live].map((p) => p.stop()));
  await emulator?.close();
  await quitIoredis(inspect);
  await redis?.kill();
});

async function start(name: string, ring: Ring): Promise<AppProcess> {
  const app = await startAppProcess(name, { ...base, TOKEN_ENCRYPTION_KEYS: RING[ring] });
  live.add(app);
  return app;
}

async function stop(app: AppProcess): Promise<void> {
  live.delete(app);
  await app.stop();
}

interface User {
  id: string;
  browser: Browser;
}

let nextUser = 7_300_000_000;
function newUserId(): string {
  const id = String(++nextUser);
  emulator.addUser({ id, nickname: `Rotate ${id.slice(-3)}` });
  return id;
}

async function loginOn(app: AppProcess, userId: string): Promise<User> {
  const browser = new Browser();
  const done = await browser.login(app.url, app.url, userId);
  expect({
    login: userId,
    on: app.name,
    status: done.status,
    location: done.headers.get('location'),
  }).toEqual({
    login: userId,
    on: app.name,
    status: 302,
    location: '/',
  });
  return { id: userId, browser };
}

/** The kid of each user's record, read from Redis (`<expiry>|kt1.<kid>.…`). */
async function kids(users: readonly User[]): Promise<string[]> {
  const out: string[] = [];
  for (const u of users) {
    const fields = await storedLogins(inspect, `kle:u:{${u.id}}`);
    for (const value of Object.values(fields)) out.push(value.split('|')[1]!.split('.')[1]!);
  }
  return out;
}

/** Every user's login is still there: one record, one session. */
async function expectNothingDeleted(users: readonly User[]): Promise<void> {
  for (const u of users) {
    const sid = u.browser.sessionId()!;
    expect({ user: u.id, record: await hasLogin(inspect, `kle:u:{${u.id}}`, sid) }).toEqual({
      user: u.id,
      record: 1,
    });
    expect({ user: u.id, session: await inspect.exists(`kle:sess:${sid}`) }).toEqual({
      user: u.id,
      session: 1,
    });
  }
}

/**
 * Rounds of `/me/kakao` (which reads the tokens) for every user, alternating over `apps`, the second
 * half after Kakao expired every access token (so refreshes happen on whichever process the request
 * lands). Every answer must be 200 for the right user.
 */
async function traffic(users: readonly User[], apps: readonly AppProcess[], rounds = 4): Promise<void> {
  const failures: string[] = [];
  let turn = 0;
  for (let round = 0; round < rounds; round++) {
    if (round === rounds / 2) for (const u of users) emulator.expireAccessTokens(u.id);
    await Promise.all(
      users.map(async (u) => {
        const app = apps[turn++ % apps.length]!;
        const res = await u.browser.get(`${app.url}/me/kakao`);
        const body = (await res.json().catch(() => ({}))) as { id?: unknown };
        if (res.status !== 200 || String(body.id) !== u.id) {
          failures.push(`${u.id} on ${app.name} (round ${round}): ${res.status} ${JSON.stringify(body)}`);
        }
      }),
    );
  }
  expect(failures).toEqual([]);
}

function refreshCount(): number {
  return emulator.requests.filter((r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token')
    .length;
}

describe('the two-phase rotation over a rolling deploy', () => {
  test('phases 1–4 with overlapping processes: nobody is logged out, no record is deleted', async () => {
    // Phase 1: k2 is deployed decrypt-only everywhere; k1 still seals.
    let a = await start('A1 [k1,k2]', 'k1,k2');
    let b = await start('B1 [k1,k2]', 'k1,k2');
    const users: User[] = [];
    for (let i = 0; i < 6; i++) users.push(await loginOn(i % 2 ? b : a, newUserId()));
    emulator.resetRequests();
    await traffic(users, [a, b]);
    expect(new Set(await kids(users))).toEqual(new Set(['k1']));

    // Phase 2: A is redeployed sealing with k2 while A1 and B1 still serve.
    const a2 = await start('A2 [k2,k1]', 'k2,k1');
    await traffic(users, [a, b, a2]);
    await stop(a);
    a = a2;
    users.push(await loginOn(a, newUserId()));
    await traffic(users, [a, b]);
    expect(new Set(await kids(users))).toContain('k2');
    await expectNothingDeleted(users);

    // Phase 3: B too seals with k2; every record is re-sealed with k2 as it is read.
    const b2 = await start('B2 [k2,k1]', 'k2,k1');
    await traffic(users, [a, b, b2]);
    await stop(b);
    b = b2;
    await traffic(users, [a, b]);
    expect(new Set(await kids(users))).toEqual(new Set(['k2']));
    await expectNothingDeleted(users);

    // Phase 4: k1 is retired, process by process.
    const a3 = await start('A3 [k2]', 'k2');
    await traffic(users, [a, b, a3]);
    await stop(a);
    a = a3;
    const b3 = await start('B3 [k2]', 'k2');
    await traffic(users, [a, b, b3]);
    await stop(b);
    b = b3;
    await traffic(users, [a, b]);
    await expectNothingDeleted(users);

    // Refreshes really ran across the phases, and no process logged a decryption failure.
    expect(refreshCount()).toBeGreaterThanOrEqual(users.length * 4);
    for (const app of [a, b]) {
      expect(app.output()).not.toMatch(
        /token_decryption_failed|ERR_KAKAO_TOKEN_KEY_UNKNOWN|"reason":"reauth_required"/,
      );
    }
    await Promise.all([stop(a), stop(b)]);
  }, 120_000);
});

describe('the wrong order: B has only k1 while A seals with k2', () => {
  let a: AppProcess;
  let b: AppProcess;
  beforeAll(async () => {
    a = await start('A [k2,k1]', 'k2,k1');
    b = await start('B [k1]', 'k1');
  }, 30_000);
  afterAll(async () => {
    await Promise.allSettled([stop(a), stop(b)]);
  });

  test('B answers 503 (key unknown) without deleting the record or ending the login; A keeps working', async () => {
    const user = await loginOn(a, newUserId());
    const sid = user.browser.sessionId()!;
    const userKey = `kle:u:{${user.id}}`;
    const sealed = (await loginValue(inspect, userKey, sid))!;
    expect(sealed.split('|')[1]).toMatch(/^kt1\.k2\./);

    for (const forceRefresh of [false, true]) {
      if (forceRefresh) emulator.expireAccessTokens(user.id);
      const onB = await user.browser.get(`${b.url}/me/kakao`);
      expect(onB.status).toBe(503);
      expect(onB.headers.get('retry-after')).toBe('5');
      expect(await onB.json()).toMatchObject({ error: 'service_unavailable' });
      // Nothing deleted, the login goes on (on B too, for what needs no tokens).
      await expect(hasLogin(inspect, userKey, sid)).resolves.toBe(1);
      expect((await user.browser.get(`${b.url}/me`)).status).toBe(200);
      const onA = await user.browser.get(`${a.url}/me/kakao`);
      expect(onA.status).toBe(200);
      expect(String(((await onA.json()) as { id?: unknown }).id)).toBe(user.id);
    }
    expect(b.output()).toMatch(/ERR_KAKAO_TOKEN_KEY_UNKNOWN/);
    expect(b.output()).not.toMatch(/token_decryption_failed/);
    await expect(inspect.exists(`kle:sess:${sid}`)).resolves.toBe(1);
  });

  test('tampering under a key the process holds still deletes the record and ends the login', async () => {
    const user = await loginOn(a, newUserId());
    const sid = user.browser.sessionId()!;
    const userKey = `kle:u:{${user.id}}`;
    const value = (await loginValue(inspect, userKey, sid))!;
    const [expiry, envelope] = value.split('|') as [string, string];
    const parts = envelope.split('.');
    const ct = Buffer.from(parts[3]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[3] = ct.toString('base64url');
    await putLogin(inspect, userKey, sid, `${expiry}|${parts.join('.')}`);

    const res = await user.browser.get(`${a.url}/me/kakao`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'reauth_required' });
    await expect(hasLogin(inspect, userKey, sid)).resolves.toBe(0);
    await expect(inspect.exists(`kle:sess:${sid}`)).resolves.toBe(0);
    expect((await user.browser.get(`${b.url}/me`)).status).toBe(401);
    expect(a.output()).toMatch(/token_decryption_failed/);
  });
});

describe('start-up refusal of a bad key ring', () => {
  test.each([
    ['one kid twice', `k1:${K1},k1:${K2}`, /key id "k1" appears twice/],
    ['one key under two ids', `k1:${K1},k2:${K1}`, /keys "k1" and "k2" are the same key under two ids/],
    [
      'one key under two ids, once base64url',
      `k1:${K1},k2:${Buffer.from(K1, 'base64').toString('base64url')}`,
      /keys "k1" and "k2" are the same key under two ids/,
    ],
  ])('%s: the app exits 1 with a message naming the kids, never the key', async (_name, ring, message) => {
    const { code, output } = await expectStartRefused({ ...base, TOKEN_ENCRYPTION_KEYS: ring });
    expect(code).toBe(1);
    expect(output).toMatch(message);
    expect(output).not.toMatch(/listening on/);
    for (const secret of [
      K1,
      K2,
      Buffer.from(K1, 'base64').toString('base64url'),
      Buffer.from(K1, 'base64').toString('hex'),
    ]) {
      expect(output).not.toContain(secret);
    }
  });
});
