/**
 * Tombstones outlive any request that could write the session (issue 10.6, R67): a request that loaded
 * the session before logout (or unlink) and writes it back more than 600 s later does not bring the
 * session back, because the tombstone lives as long as the login could have. Runs a minimal app with an
 * injected clock shared by kakaoAuth and the stores: in memory, and on this file's own Redis over both
 * client libraries (connect-redis 8 sessions).
 */
import { RedisStore } from 'connect-redis-8';
import type { Store } from 'express-session';
import type { Redis } from 'ioredis';
import { MemoryTokenStore, RedisTokenStore, type TokenStore } from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { markerNames } from '../../lib/stores/contracts';
import { loginMini, sessionIdOf, startMiniApp, type MiniApp } from '../helpers/mini-app';
import { connectClient, inspector, quitIoredis, type ConnectedClient } from '../helpers/redis-clients';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';

const HOUR_MS = 3600_000;
const MINJI = '4120937465';

let server: RedisServerHandle;
let redis: Redis;
let emulator: KakaoEmulator;

beforeAll(async () => {
  server = await startRedisServer();
  redis = (await inspector({ url: server.url })) as Redis;
  emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
});
afterAll(async () => {
  await emulator?.close();
  await quitIoredis(redis);
  await server?.kill();
});

type Variant = 'memory' | 'ioredis' | 'node-redis';

describe.each<Variant>(['memory', 'ioredis', 'node-redis'])('tombstones (%s)', (variant) => {
  let clock: { t: number };
  let app: MiniApp;
  let client: ConnectedClient | undefined;
  let tokenStore: TokenStore;
  const prefix = `tomb-${variant}:`;
  /** Gates of slow requests: the route waits until the test opens its gate. */
  const gates = new Map<string, { entered: () => void; open: Promise<void> }>();

  function slowRequest(name: string): { entered: Promise<void>; release: () => void } {
    let enter!: () => void;
    let release!: () => void;
    const entered = new Promise<void>((resolve) => (enter = resolve));
    const open = new Promise<void>((resolve) => (release = resolve));
    gates.set(name, { entered: enter, open });
    return { entered, release };
  }

  beforeAll(async () => {
    clock = { t: Date.now() };
    const now = () => clock.t;
    let sessionStore: Store | undefined;
    if (variant === 'memory') {
      tokenStore = new MemoryTokenStore({ now });
    } else {
      client = await connectClient(variant, { url: server.url });
      tokenStore = new RedisTokenStore({ client: client.client, prefix, now });
      sessionStore = new RedisStore({ client: client.client as never, prefix: `${prefix}sess:`, ttl: 1800 });
    }
    app = await startMiniApp({
      emulator,
      tokenStore,
      now,
      ...(sessionStore && client && { sessionStore, sessionClient: client.client }),
      routes: (express) => {
        // A slow request that changes the session (a long upload, a long poll): express-session writes
        // the whole session when it ends.
        express.get('/slow/:name', (req, res) => {
          const gate = gates.get(req.params.name)!;
          (req.session as unknown as Record<string, unknown>).visits = 1;
          gate.entered();
          void gate.open.then(() => res.json({ ok: true }));
        });
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await client?.close();
  });

  async function tombstonePttl(sid: string): Promise<number | undefined> {
    if (variant === 'memory') return undefined;
    return Number(await redis.pttl(prefix + markerNames.endedSession({ userId: MINJI, sessionId: sid })));
  }

  test.each(['logout', 'the unlink webhook'])(
    'a request that loaded the session before %s and writes it 11 minutes later does not bring it back',
    async (how) => {
      clock.t = Date.now();
      const agent = app.agent();
      const done = await loginMini(app, agent, MINJI);
      const sid = sessionIdOf(done, 'mini.sid');
      const oldCookie = (done.headers['set-cookie'] as unknown as string[])
        .find((c) => c.startsWith('mini.sid='))!
        .split(';')[0]!;
      // An hour into the login, a slow request loads the session…
      clock.t += HOUR_MS;
      const slow = slowRequest(`${variant}-${how}`);
      const slowResponse = app
        .agent()
        .get(`/slow/${variant}-${how}`)
        .set('Cookie', oldCookie)
        .then((r) => r);
      await slow.entered;
      // …the login ends meanwhile…
      if (how === 'logout') {
        expect((await agent.post('/logout').redirects(0)).status).toBe(302);
      } else {
        const hook = await app
          .agent()
          .post('/webhooks/kakao/unlink')
          .set('Authorization', `KakaoAK ${emulator.adminKey}`)
          .type('form')
          .send({ app_id: String(emulator.appId), user_id: MINJI, referrer_type: 'UNLINK_FROM_APPS' });
        expect(hook.status).toBe(200);
      }
      expect((await app.agent().get('/me').set('Cookie', oldCookie)).status).toBe(401);
      // The tombstone lives as long as the login could have: 11 of its 12 hours were left.
      const pttl = await tombstonePttl(sid);
      if (pttl !== undefined) {
        expect(pttl).toBeGreaterThan(11 * HOUR_MS - 60_000);
        expect(pttl).toBeLessThanOrEqual(11 * HOUR_MS + 1000);
      }
      // …and the slow request finishes 11 minutes later, writing the session it loaded.
      clock.t += 11 * 60_000;
      slow.release();
      expect((await slowResponse).status).toBe(200);

      expect((await app.agent().get('/me').set('Cookie', oldCookie)).status).toBe(401);
      if (variant !== 'memory') await expect(redis.exists(`${prefix}sess:${sid}`)).resolves.toBe(0);
      await expect(
        tokenStore.markers!.has(markerNames.endedSession({ userId: MINJI, sessionId: sid })),
      ).resolves.toBe(true);
    },
  );

  test('the tombstone ends with the login, not before and not never', async () => {
    clock.t = Date.now();
    const agent = app.agent();
    const sid = sessionIdOf(await loginMini(app, agent, MINJI), 'mini.sid');
    clock.t += 2 * HOUR_MS;
    expect((await agent.post('/logout').redirects(0)).status).toBe(302);
    const name = markerNames.endedSession({ userId: MINJI, sessionId: sid });
    const pttl = await tombstonePttl(sid);
    if (pttl !== undefined) {
      // Ten hours of the login's twelve were left.
      expect(pttl).toBeGreaterThan(10 * HOUR_MS - 60_000);
      expect(pttl).toBeLessThanOrEqual(10 * HOUR_MS);
    } else {
      clock.t += 10 * HOUR_MS - 60_000;
      await expect(tokenStore.markers!.has(name)).resolves.toBe(true);
      clock.t += 61_000;
      await expect(tokenStore.markers!.has(name)).resolves.toBe(false);
    }
  });
});
