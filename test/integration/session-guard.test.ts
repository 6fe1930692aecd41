/**
 * The session guard's GETEX fold (session-guard.ts) with connect-redis 8: an authenticated request reads
 * and renews the session in ONE Redis command, the idle timeout still ends sessions, and with a cookie
 * `maxAge` the TTL follows the cookie (express-session's touch still runs). Counted with MONITOR on this
 * file's own redis-server.
 */
import { RedisStore } from 'connect-redis-8';
import type { Redis } from 'ioredis';
import { RedisTokenStore } from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { login, startHarness, type Harness } from '../helpers/harness';
import { loginMini, sessionIdOf, startMiniApp, type MiniApp } from '../helpers/mini-app';
import {
  connectClient,
  inspector,
  monitorNodes,
  quitIoredis,
  type ConnectedClient,
} from '../helpers/redis-clients';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { sleep } from '../../lib/util';

const IDLE_SECONDS = 30 * 60;

let server: RedisServerHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = (await inspector({ url: server.url })) as Redis;
});
afterAll(async () => {
  await quitIoredis(redis);
  await server?.kill();
});

/** The commands Redis received from clients (not from scripts) while `run` ran. */
async function commandsDuring(run: () => Promise<unknown>): Promise<string[][]> {
  const monitor = await monitorNodes([server.port]);
  try {
    await monitor.settle();
    monitor.clear();
    await run();
    await monitor.settle();
    return monitor.commands.filter((c) => c.source !== 'lua').map((c) => c.args);
  } finally {
    await monitor.stop();
  }
}

describe('the example app (connect-redis 8 on ioredis)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { REDIS_URL: server.url, SESSION_SECRET: 'g'.repeat(40) } });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('an authenticated request costs one Redis command, which renews the session TTL', async () => {
    const agent = h.agent();
    const done = await login(h, agent);
    const sid = sessionIdOf(done, 'kle.sid');
    await redis.expire(`kle:sess:${sid}`, 100);
    let status = 0;
    const commands = await commandsDuring(async () => {
      status = (await agent.get('/me')).status;
    });
    expect(status).toBe(200);
    expect(commands.map((args) => args[0]!.toLowerCase())).toEqual(['getex']);
    expect(commands[0]!.slice(1)).toEqual([`kle:sess:${sid}`, 'EX', String(IDLE_SECONDS)]);
    const ttl = await redis.ttl(`kle:sess:${sid}`);
    expect(ttl).toBeGreaterThan(IDLE_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(IDLE_SECONDS);
  });

  test('the session TTL is renewed by each request, and an idle session still ends', async () => {
    const agent = h.agent();
    const sid = sessionIdOf(await login(h, agent), 'kle.sid');
    await redis.expire(`kle:sess:${sid}`, 100);
    expect((await agent.get('/me')).status).toBe(200);
    expect(await redis.ttl(`kle:sess:${sid}`)).toBeGreaterThan(IDLE_SECONDS - 10);
    // Idle: the key's TTL runs out.
    await redis.pexpire(`kle:sess:${sid}`, 50);
    await sleep(120);
    expect((await agent.get('/me')).status).toBe(401);
  });
});

describe.each(['ioredis', 'node-redis'] as const)('a minimal app on connect-redis 8 over %s', (kind) => {
  let emulator: KakaoEmulator;
  let client: ConnectedClient;
  let plain: MiniApp;
  let withMaxAge: MiniApp;
  const prefix = `mini-${kind}:sess:`;
  const maxAgeMs = 10 * 60_000;

  beforeAll(async () => {
    emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
    client = await connectClient(kind, { url: server.url });
    const stores = () => ({
      emulator,
      tokenStore: new RedisTokenStore({ client: client.client, prefix: `mini-${kind}:` }),
      sessionStore: new RedisStore({ client: client.client as never, prefix, ttl: IDLE_SECONDS }),
      // connect-redis 8 keeps only a wrapper of its client: the app names it for the guard.
      sessionClient: client.client,
    });
    plain = await startMiniApp(stores());
    withMaxAge = await startMiniApp({ ...stores(), cookieMaxAgeMs: maxAgeMs });
  });
  afterAll(async () => {
    await plain?.close();
    await withMaxAge?.close();
    await client?.close();
    await emulator?.close();
  });

  test('an authenticated request costs one command (GETEX) and renews the TTL', async () => {
    const agent = plain.agent();
    const sid = sessionIdOf(await loginMini(plain, agent, '4120937465'), 'mini.sid');
    await redis.expire(prefix + sid, 100);
    let status = 0;
    const commands = await commandsDuring(async () => {
      status = (await agent.get('/me')).status;
    });
    expect(status).toBe(200);
    expect(commands.map((args) => args[0]!.toLowerCase())).toEqual(['getex']);
    expect(await redis.ttl(prefix + sid)).toBeGreaterThan(IDLE_SECONDS - 10);
    await redis.pexpire(prefix + sid, 50);
    await sleep(120);
    expect((await agent.get('/me')).status).toBe(401);
  });

  test('the session is stored without the cookie fields that hold express-session defaults, and works', async () => {
    const agent = plain.agent();
    const sid = sessionIdOf(await loginMini(plain, agent, '4120937465'), 'mini.sid');
    const stored = JSON.parse((await redis.get(prefix + sid))!) as { cookie: Record<string, unknown> };
    expect(stored.cookie).toEqual({ sameSite: 'lax' });
    expect((await agent.get('/me')).status).toBe(200);
    // With a maxAge the cookie keeps what differs from the defaults: its expiry.
    const timed = withMaxAge.agent();
    const timedSid = sessionIdOf(await loginMini(withMaxAge, timed, '4120937465'), 'mini.sid');
    const timedCookie = (JSON.parse((await redis.get(prefix + timedSid))!) as typeof stored).cookie;
    expect(Object.keys(timedCookie).sort()).toEqual(['expires', 'originalMaxAge', 'sameSite']);
    expect((await timed.get('/me')).status).toBe(200);
  });

  test('with a cookie maxAge the TTL follows the cookie: touch still runs', async () => {
    const agent = withMaxAge.agent();
    const sid = sessionIdOf(await loginMini(withMaxAge, agent, '4120937465'), 'mini.sid');
    const afterLogin = await redis.ttl(prefix + sid);
    expect(afterLogin).toBeGreaterThan(maxAgeMs / 1000 - 10);
    expect(afterLogin).toBeLessThanOrEqual(maxAgeMs / 1000);
    await redis.expire(prefix + sid, 100);
    let status = 0;
    const commands = await commandsDuring(async () => {
      status = (await agent.get('/me')).status;
    });
    expect(status).toBe(200);
    expect(commands.map((args) => args[0]!.toLowerCase())).toContain('expire');
    const ttl = await redis.ttl(prefix + sid);
    expect(ttl).toBeGreaterThan(maxAgeMs / 1000 - 10);
    expect(ttl).toBeLessThanOrEqual(maxAgeMs / 1000);
  });
});
