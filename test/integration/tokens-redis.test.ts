import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { authorizeAtEmulator, leakedSecrets, login, startHarness, type Harness } from '../helpers/harness';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { hasLogin, loginCount, loginValue, putLogin } from '../helpers/user-logins';

const MINJI = '4120937465';
const USER_KEY = `kle:u:{${MINJI}}`;
const KEY_OLD = randomBytes(32).toString('base64');
const KEY_NEW = randomBytes(32).toString('base64');

function sessionCookie(res: { headers: Record<string, unknown> }): string {
  const list = res.headers['set-cookie'] as string[];
  return list.find((c) => c.startsWith('kle.sid='))!.split(';')[0]!;
}

/** The express-session id inside a signed `kle.sid` cookie (`s:<id>.<signature>`). */
function sessionId(res: { headers: Record<string, unknown> }): string {
  const value = decodeURIComponent(sessionCookie(res).slice('kle.sid='.length));
  return value.slice(2, value.lastIndexOf('.'));
}

async function dumpRedis(redis: Redis): Promise<string> {
  const keys = await redis.keys('*');
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    const value =
      type === 'string'
        ? await redis.get(key)
        : type === 'set'
          ? (await redis.smembers(key)).join(',')
          : type;
    parts.push(`${key}=${value}`);
  }
  return parts.join('\n');
}

describe('tokens in Redis through the example app', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let h: Harness;
  const env = () => ({
    REDIS_URL: server.url,
    SESSION_SECRET: 's'.repeat(40),
    TOKEN_ENCRYPTION_KEYS: `k1:${KEY_OLD}`,
  });

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
    h = await startHarness({ env: env() });
  });
  afterAll(async () => {
    await h?.close();
    redis?.disconnect();
    await server?.kill();
  });
  beforeEach(() => h.emulator.resetRequests());

  test('after login Redis holds only sealed tokens: no token the emulator issued appears anywhere', async () => {
    const agent = h.agent();
    await login(h, agent);
    const dump = await dumpRedis(redis);
    expect(dump).toMatch(/kle:sess:/);
    expect(dump).toMatch(/kle:u:\{4120937465\}=/);
    expect(dump).toMatch(/ [0-9a-z]+\|kt1\.k1\./);
    expect(leakedSecrets(dump, h.emulator.issuedSecrets())).toEqual([]);
  });

  test('/me/kakao answers with Kakao user info using the stored access token', async () => {
    const agent = h.agent();
    await login(h, agent);
    const res = await agent.get('/me/kakao');
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(MINJI);
  });

  test('/me/kakao answers 502 for Kakao garbage and keeps the tokens', async () => {
    const agent = h.agent();
    await login(h, agent);
    h.emulator.injectFault({ endpoint: 'user_me', kind: 'html_500', times: 1 });
    const garbage = await agent.get('/me/kakao');
    expect(garbage.status).toBe(502);
    expect(garbage.body).toMatchObject({ error: 'kakao_error', requestId: expect.any(String) });
    expect(garbage.text).not.toMatch(/at .*\(.*:\d+:\d+\)/);
    expect((await agent.get('/me/kakao')).status).toBe(200);
  });

  test('50 concurrent /me/kakao after Kakao expired the access token cause exactly one refresh', async () => {
    const agent = h.agent();
    await login(h, agent);
    h.emulator.expireAccessTokens(MINJI);
    h.emulator.resetRequests();
    const results = await Promise.all(Array.from({ length: 50 }, () => agent.get('/me/kakao')));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const refreshes = h.emulator.requests.filter(
      (r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token',
    );
    expect(refreshes).toHaveLength(1);
    expect(leakedSecrets(await dumpRedis(redis), h.emulator.issuedSecrets())).toEqual([]);
  });

  test('a rotated refresh token replaces the stored one; without rotation the old one is kept', async () => {
    const agent = h.agent();
    await login(h, agent);
    h.emulator.setRefreshTokenRemaining(MINJI, 10 * 24 * 3600);
    h.emulator.expireAccessTokens(MINJI);
    expect((await agent.get('/me/kakao')).status).toBe(200);
    // The old refresh token is now invalid at Kakao: a second refresh only works if we kept the new one.
    h.emulator.expireAccessTokens(MINJI);
    expect((await agent.get('/me/kakao')).status).toBe(200);
    const refreshes = h.emulator.requests.filter(
      (r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token',
    );
    expect(refreshes).toHaveLength(2);
    expect(refreshes[0]!.form.refresh_token).not.toBe(refreshes[1]!.form.refresh_token);
  });

  test('a revoked refresh token ends the session with reauth_required and deletes the tokens', async () => {
    const agent = h.agent();
    await login(h, agent);
    const before = await loginCount(redis, USER_KEY);
    h.emulator.expireAccessTokens(MINJI);
    h.emulator.expireRefreshTokens(MINJI);
    const res = await agent.get('/me/kakao');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'reauth_required' });
    expect((await agent.get('/me')).status).toBe(401);
    expect(await loginCount(redis, USER_KEY)).toBe(before - 1);
  });

  test('a tampered record fails closed: reauth_required, no 500, record deleted', async () => {
    const agent = h.agent();
    const sid = sessionId(await login(h, agent));
    const value = (await loginValue(redis, USER_KEY, sid))!;
    const parts = value.split('.');
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith('AA') ? 'BB' : 'AA');
    await putLogin(redis, USER_KEY, sid, parts.join('.'));
    const res = await agent.get('/me/kakao');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'reauth_required' });
    expect(h.events.some((e) => e.event === 'token_decryption_failed')).toBe(true);
    await expect(hasLogin(redis, USER_KEY, sid)).resolves.toBe(0);
    expect((await agent.get('/me')).status).toBe(401);
  });

  test('a record copied to another session does not decrypt there', async () => {
    const a = h.agent();
    const b = h.agent();
    const sidA = sessionId(await login(h, a));
    const sidB = sessionId(await login(h, b));
    const value = await loginValue(redis, USER_KEY, sidA);
    expect(value).toMatch(/^[0-9a-z]+\|kt1\./);
    await putLogin(redis, USER_KEY, sidB, value!);
    expect((await a.get('/me/kakao')).status).toBe(200);
    const copied = await b.get('/me/kakao');
    expect(copied.status).toBe(401);
    expect(copied.body).toEqual({ error: 'reauth_required' });
  });

  test('logout and the webhook mark the ended sessions so that a late write cannot resurrect them', async () => {
    const a = h.agent();
    const sid = sessionId(await login(h, a));
    await a.post('/logout').redirects(0);
    // The tombstone lives as long as the login could have (12 h from login), not a fixed 600 s.
    const ttl = await redis.ttl(`kle:e:{${MINJI}}:${sid}`);
    expect(ttl).toBeGreaterThan(12 * 3600 - 60);
    expect(ttl).toBeLessThanOrEqual(12 * 3600);
    const b = h.agent();
    const sidB = sessionId(await login(h, b));
    const hook = await h
      .agent()
      .post('/webhooks/kakao/unlink')
      .set('Authorization', `KakaoAK ${h.emulator.adminKey}`)
      .type('form')
      .send({ app_id: String(h.emulator.appId), user_id: MINJI, referrer_type: 'UNLINK_FROM_APPS' });
    expect(hook.status).toBe(200);
    expect(await redis.exists(`kle:e:{${MINJI}}:${sidB}`)).toBe(1);
  });

  test('logout deletes the stored tokens of that login only', async () => {
    const a = h.agent();
    const b = h.agent();
    await login(h, a);
    await login(h, b);
    const before = await loginCount(redis, USER_KEY);
    expect((await a.post('/logout').redirects(0)).status).toBe(302);
    expect(await loginCount(redis, USER_KEY)).toBe(before - 1);
    expect((await b.get('/me/kakao')).status).toBe(200);
  });

  test('logout from the Kakao account too goes through Kakao account logout and comes back with a checked state', async () => {
    const agent = h.agent();
    await login(h, agent);
    const res = await agent.post('/logout?kakaoAccount=1').redirects(0);
    expect(res.status).toBe(302);
    const kakao = new URL(res.headers.location!);
    expect(kakao.pathname).toBe('/oauth/logout');
    expect(kakao.searchParams.get('logout_redirect_uri')).toBe(
      `${new URL(h.app.callbackURL).origin}/logout/kakao/callback`,
    );
    const back = await fetch(kakao, { redirect: 'manual' });
    const returned = new URL(back.headers.get('location')!);
    expect(returned.searchParams.get('state')).toBe(kakao.searchParams.get('state'));
    const final = await agent.get(returned.pathname + returned.search).redirects(0);
    expect(final.status).toBe(302);
    expect(final.headers.location).toBe('/');
    expect((await agent.get('/me')).status).toBe(401);
    expect(h.emulator.count('logout')).toBe(1);
  });

  test('the user unlinks: Kakao unlink is called and every session of the user ends', async () => {
    const a = h.agent();
    const b = h.agent();
    await login(h, a);
    await login(h, b);
    const res = await a.post('/unlink').redirects(0);
    expect(res.status).toBe(302);
    expect(h.emulator.count('unlink')).toBe(1);
    expect((await a.get('/me')).status).toBe(401);
    expect((await b.get('/me')).status).toBe(401);
    expect(await redis.exists(USER_KEY)).toBe(0);
  });

  test('the unlink webhook with the admin key ends all sessions and tokens of the user; a wrong key changes nothing', async () => {
    const a = h.agent();
    const b = h.agent();
    await login(h, a);
    await login(h, b);
    const bad = await h
      .agent()
      .post('/webhooks/kakao/unlink')
      .set('Authorization', 'KakaoAK wrong-key')
      .type('form')
      .send({ app_id: String(h.emulator.appId), user_id: MINJI, referrer_type: 'UNLINK_FROM_APPS' });
    expect(bad.status).toBe(401);
    expect((await a.get('/me')).status).toBe(200);
    const began = Date.now();
    const good = await h
      .agent()
      .post('/webhooks/kakao/unlink')
      .set('Authorization', `KakaoAK ${h.emulator.adminKey}`)
      .type('form')
      .send({ app_id: String(h.emulator.appId), user_id: MINJI, referrer_type: 'UNLINK_FROM_APPS' });
    expect(good.status).toBe(200);
    expect(Date.now() - began).toBeLessThan(3000);
    expect((await a.get('/me')).status).toBe(401);
    expect((await b.get('/me')).status).toBe(401);
    expect(await redis.exists(USER_KEY)).toBe(0);
    const unknown = await h
      .agent()
      .get('/webhooks/kakao/unlink')
      .set('Authorization', `KakaoAK ${h.emulator.adminKey}`)
      .query({ app_id: String(h.emulator.appId), user_id: '999', referrer_type: 'ACCOUNT_DELETE' });
    expect(unknown.status).toBe(200);
  });

  test('rotating the key ring keeps old records readable and re-seals them with the new key', async () => {
    const agent = h.agent();
    const res = await login(h, agent);
    const field = sessionId(res);
    expect(await loginValue(redis, USER_KEY, field)).toMatch(/^[0-9a-z]+\|kt1\.k1\./);
    const rotated = await startHarness({
      env: { ...env(), TOKEN_ENCRYPTION_KEYS: `k2:${KEY_NEW},k1:${KEY_OLD}` },
      sharedEmulator: h.emulator,
    });
    try {
      // Same Redis and session secret: the session made by the first app is valid in the second.
      const me = await rotated.agent().get('/me/kakao').set('Cookie', sessionCookie(res));
      expect(me.status).toBe(200);
      expect(await loginValue(redis, USER_KEY, field)).toMatch(/^[0-9a-z]+\|kt1\.k2\./);
    } finally {
      await rotated.close();
    }
  });
});

describe('sessions in Redis', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let offset = 0;
  let h: Harness;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
    h = await startHarness({
      env: { REDIS_URL: server.url, SESSION_SECRET: `${'n'.repeat(40)},${'s'.repeat(40)}` },
      overrides: { now: () => Date.now() + offset },
    });
  });
  afterAll(async () => {
    await h?.close();
    redis?.disconnect();
    await server?.kill();
  });

  test('requests without a session cookie never touch Redis (R37)', async () => {
    const before = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
    for (let i = 0; i < 100; i++) expect((await h.agent().get('/')).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await h.agent().get('/me')).status).toBe(401);
    const after = Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
    // The two INFO calls themselves are the only commands.
    expect(after - before).toBeLessThanOrEqual(1);
    expect(await redis.keys('kle:sess:*')).toEqual([]);
  });

  test('the idle timeout is the session key TTL in Redis, renewed by each request (R34)', async () => {
    const agent = h.agent();
    const sid = sessionId(await login(h, agent));
    await redis.expire(`kle:sess:${sid}`, 100);
    expect((await agent.get('/me')).status).toBe(200);
    const ttl = await redis.ttl(`kle:sess:${sid}`);
    expect(ttl).toBeGreaterThan(1790);
    expect(ttl).toBeLessThanOrEqual(1800);
    await redis.del(`kle:sess:${sid}`);
    expect((await agent.get('/me')).status).toBe(401);
  });

  test('the absolute lifetime ends an active session after 12 hours and drops its tokens (R35)', async () => {
    const agent = h.agent();
    const sid = sessionId(await login(h, agent));
    expect(await hasLogin(redis, USER_KEY, sid)).toBe(1);
    offset = 11 * 3600_000;
    try {
      expect((await agent.get('/me')).status).toBe(200);
      offset = 12 * 3600_000 + 1000;
      expect((await agent.get('/me')).status).toBe(401);
      expect(await hasLogin(redis, USER_KEY, sid)).toBe(0);
    } finally {
      offset = 0;
    }
  });

  test('a cookie signed with the previous session secret still works after rotation (R32)', async () => {
    const agent = h.agent();
    const res = await login(h, agent);
    const old = startHarness({
      env: { REDIS_URL: server.url, SESSION_SECRET: 's'.repeat(40) },
      sharedEmulator: h.emulator,
    });
    const previous = await old;
    try {
      // A session made under the old secret alone…
      const legacy = previous.agent();
      const legacyCookie = sessionCookie(await login(previous, legacy));
      // …is accepted by the app that now signs with the new secret and verifies both.
      expect((await h.agent().get('/me').set('Cookie', legacyCookie)).status).toBe(200);
      // New cookies are signed with the first secret, which the old app does not know.
      expect((await previous.agent().get('/me').set('Cookie', sessionCookie(res))).status).toBe(401);
    } finally {
      await previous.close();
    }
  });
});

describe('Redis outages', () => {
  let server: RedisServerHandle;
  let h: Harness;

  beforeAll(async () => {
    server = await startRedisServer();
    h = await startHarness({ env: { REDIS_URL: server.url, SESSION_SECRET: 'o'.repeat(40) } });
  });
  afterAll(async () => {
    await h?.close();
    await server?.kill();
  });

  test('with Redis stopped every Redis route answers 503 within 1.5 s, and the app recovers when Redis returns', async () => {
    const agent = h.agent();
    const res = await login(h, agent);
    const cookie = sessionCookie(res);
    expect((await agent.get('/me')).status).toBe(200);
    await server.stop();
    for (const request of [
      () => agent.get('/me'),
      () => agent.get('/me/kakao'),
      () => h.agent().get('/auth/kakao').redirects(0),
      () => h.agent().get('/healthz'),
      () => h.agent().get('/me').set('Cookie', cookie),
    ]) {
      const began = Date.now();
      const r = await request();
      expect(r.status).toBe(503);
      expect(Date.now() - began).toBeLessThan(1500);
      expect(r.text).not.toMatch(/at .*\(.*:\d+:\d+\)/);
    }
    await server.start();
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await h.agent().get('/healthz')).status === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 200));
    }
    expect(recovered).toBe(true);
    // The data is gone (this Redis keeps nothing on disk), but new logins work without an app restart.
    const again = h.agent();
    const start = await again.get('/auth/kakao').redirects(0);
    expect(start.status).toBe(302);
    const callback = await authorizeAtEmulator(start.headers.location!);
    expect((await again.get(callback.pathname + callback.search).redirects(0)).headers.location).toBe('/');
    expect((await again.get('/me')).status).toBe(200);
  });

  test('a login start with Redis down answers 503 and never redirects to Kakao', async () => {
    await server.stop();
    try {
      h.emulator.resetRequests();
      const began = Date.now();
      const res = await h.agent().get('/auth/kakao').redirects(0);
      expect(res.status).toBe(503);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['retry-after']).toBe('5');
      expect(Date.now() - began).toBeLessThan(1500);
    } finally {
      await server.start();
      for (let i = 0; i < 50 && (await h.agent().get('/healthz')).status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
});
