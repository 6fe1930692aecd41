/**
 * A login's token record lives no longer than the login can be used (issue 10.1), seen through the
 * example app on this file's own Redis: its TTL, its renewal on refresh, one record per browser however
 * often it logs in, deletion on logout / unlink / webhook / invalid_grant, and unlink and the webhook
 * ending every session of the user, also a session whose record has already expired (a refresh token
 * shorter than the session: the login stays listed, without tokens, until the session's end).
 */
import type { Redis } from 'ioredis';
import type supertest from 'supertest';
import { login, startHarness, type Harness } from '../helpers/harness';
import { inspector, quitIoredis } from '../helpers/redis-clients';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { hasLogin, loginCount, loginIds, loginValue } from '../helpers/user-logins';
import { sleep } from '../../lib/util';

const HOUR = 3600;
const TWELVE_HOURS = 12 * HOUR;
const TEN_MINUTES_MS = 10 * 60_000;

function sessionCookie(res: supertest.Response): string {
  const list = res.headers['set-cookie'] as unknown as string[];
  return list.find((c) => c.startsWith('kle.sid='))!.split(';')[0]!;
}

/** The express-session id inside a signed `kle.sid` cookie (`s:<id>.<signature>`). */
function sessionId(res: supertest.Response): string {
  const value = decodeURIComponent(sessionCookie(res).slice('kle.sid='.length));
  return value.slice(2, value.lastIndexOf('.'));
}

const userKey = (userId: string) => `kle:u:{${userId}}`;
/** The user's logins that outlive their records (their refresh tokens end before their sessions). */
const listKey = (userId: string) => `kle:us:{${userId}}`;

/** The epoch ms a field of the user's hash expires at (its value is `<base 36 s>|<sealed>`). */
async function fieldExpiry(redis: Redis, userId: string, sid: string): Promise<number | undefined> {
  const value = await loginValue(redis, userKey(userId), sid);
  return value === null ? undefined : parseInt(value.slice(0, value.indexOf('|')), 36) * 1000;
}

function expectWithin(actualMs: number, expectedMs: number, toleranceMs: number): void {
  expect(actualMs).toBeGreaterThanOrEqual(expectedMs - toleranceMs);
  expect(actualMs).toBeLessThanOrEqual(expectedMs + toleranceMs);
}

let nextUser = 6_100_000_000;

/** A fresh emulator user (so per-user assertions see this test's logins only). */
function newUser(h: Harness): string {
  const id = String(++nextUser);
  h.emulator.addUser({ id, nickname: `Lifetime ${id.slice(-3)}` });
  return id;
}

async function loginAs(h: Harness, agent: supertest.Agent, userId: string): Promise<supertest.Response> {
  const res = await login(h, agent, { loginHint: userId });
  expect(res.status).toBe(302);
  expect(res.headers.location).toBe('/');
  return res;
}

function webhook(h: Harness, userId: string) {
  return h
    .agent()
    .post('/webhooks/kakao/unlink')
    .set('Authorization', `KakaoAK ${h.emulator.adminKey}`)
    .type('form')
    .send({ app_id: String(h.emulator.appId), user_id: userId, referrer_type: 'UNLINK_FROM_APPS' });
}

/** Unlink from the browser (`POST /unlink`) or Kakao's unlink webhook. */
async function endAllLogins(
  h: Harness,
  how: string,
  userId: string,
  browser: supertest.Agent,
): Promise<void> {
  if (how === 'POST /unlink') expect((await browser.post('/unlink').redirects(0)).status).toBe(302);
  else expect((await webhook(h, userId)).status).toBe(200);
}

describe('with Kakao refresh tokens of two months (the login end decides)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let h: Harness;
  let offsetMs = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = (await inspector({ url: server.url })) as Redis;
    h = await startHarness({
      env: { REDIS_URL: server.url, SESSION_SECRET: 'l'.repeat(40) },
      overrides: { now: () => Date.now() + offsetMs },
    });
  });
  afterAll(async () => {
    await h?.close();
    await quitIoredis(redis);
    await server?.kill();
  });
  afterEach(() => {
    offsetMs = 0;
  });

  test("after login the record's TTL is min(refresh_token_expires_in, 12 h) within ±10 min", async () => {
    const userId = newUser(h);
    h.emulator.resetRequests();
    const loggedInAt = Date.now();
    const sid = sessionId(await loginAs(h, h.agent(), userId));
    const grant = h.emulator.requests.find(
      (r) => r.endpoint === 'token' && r.form.grant_type === 'authorization_code',
    );
    expect(grant).toBeDefined();
    // The emulator issues two-month refresh tokens (Kakao's refresh_token_expires_in, 5183999 s).
    const expected = Math.min(5_183_999, TWELVE_HOURS) * 1000;
    expectWithin(Number(await redis.pttl(userKey(userId))), expected, TEN_MINUTES_MS);
    expectWithin((await fieldExpiry(redis, userId, sid))! - loggedInAt, expected, TEN_MINUTES_MS);
  });

  test('a refresh renews the record only within the login end (also when Kakao rotates the refresh token)', async () => {
    const userId = newUser(h);
    const agent = h.agent();
    const loggedInAt = Date.now();
    const sid = sessionId(await loginAs(h, agent, userId));
    expectWithin((await fieldExpiry(redis, userId, sid))! - loggedInAt, TWELVE_HOURS * 1000, TEN_MINUTES_MS);
    // Seven hours later (on the app's clock) the access token (6 h) is due, and Kakao rotates the
    // refresh token (10 days left): the new one lives two months, the login five more hours.
    offsetMs = 7 * HOUR * 1000;
    h.emulator.setRefreshTokenRemaining(userId, 10 * 24 * HOUR);
    h.emulator.resetRequests();
    expect((await agent.get('/me/kakao')).status).toBe(200);
    const refreshes = h.emulator.requests.filter((r) => r.form.grant_type === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    // (The example app's RedisTokenStore keeps the real clock, so its expiries count from real time.)
    const renewedAt = Date.now();
    expectWithin((await fieldExpiry(redis, userId, sid))! - renewedAt, 5 * HOUR * 1000, TEN_MINUTES_MS);
    expectWithin(Number(await redis.pttl(userKey(userId))), 5 * HOUR * 1000, TEN_MINUTES_MS);
    // The record holds the rotated refresh token: the next refresh presents it.
    h.emulator.expireAccessTokens(userId);
    expect((await agent.get('/me/kakao')).status).toBe(200);
    const next = h.emulator.requests.filter((r) => r.form.grant_type === 'refresh_token');
    expect(next).toHaveLength(2);
    expect(next[1]!.form.refresh_token).not.toBe(refreshes[0]!.form.refresh_token);
  });

  test('the same browser logging in 20 times leaves ONE record and ONE session', async () => {
    const userId = newUser(h);
    const agent = h.agent();
    const sessionsBefore = (await redis.keys('kle:sess:*')).length;
    let sid = '';
    for (let i = 0; i < 20; i++) sid = sessionId(await loginAs(h, agent, userId));
    expect(await loginIds(redis, userKey(userId))).toEqual([sid]);
    const sessionsAfter = await redis.keys('kle:sess:*');
    expect(sessionsAfter).toHaveLength(sessionsBefore + 1);
    expect(sessionsAfter).toContain(`kle:sess:${sid}`);
    expect((await agent.get('/me')).body).toMatchObject({ id: userId });
  });

  test("a user's 51st login drops the oldest one: its record goes and its session ends", async () => {
    const userId = newUser(h);
    const browsers = Array.from({ length: 51 }, () => h.agent());
    const sids: string[] = [];
    // The store orders logins by expiry, in whole seconds: the oldest login is a second older.
    sids.push(sessionId(await loginAs(h, browsers[0]!, userId)));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (const browser of browsers.slice(1)) sids.push(sessionId(await loginAs(h, browser, userId)));
    const fields = await loginIds(redis, userKey(userId));
    expect(fields).toHaveLength(50);
    expect(fields).not.toContain(sids[0]);
    expect((await browsers[0]!.get('/me')).status).toBe(401);
    await expect(redis.exists(`kle:sess:${sids[0]}`)).resolves.toBe(0);
    for (const browser of [browsers[1]!, browsers[50]!]) expect((await browser.get('/me')).status).toBe(200);
  });

  test('logout deletes the record at once', async () => {
    const userId = newUser(h);
    const agent = h.agent();
    const sid = sessionId(await loginAs(h, agent, userId));
    await expect(hasLogin(redis, userKey(userId), sid)).resolves.toBe(1);
    expect((await agent.post('/logout').redirects(0)).status).toBe(302);
    await expect(hasLogin(redis, userKey(userId), sid)).resolves.toBe(0);
    await expect(redis.exists(`kle:sess:${sid}`)).resolves.toBe(0);
  });

  test('invalid_grant on refresh deletes the record at once and ends the session', async () => {
    const userId = newUser(h);
    const agent = h.agent();
    const sid = sessionId(await loginAs(h, agent, userId));
    h.emulator.expireAccessTokens(userId);
    h.emulator.expireRefreshTokens(userId);
    const res = await agent.get('/me/kakao');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'reauth_required' });
    await expect(hasLogin(redis, userKey(userId), sid)).resolves.toBe(0);
    await expect(redis.exists(`kle:sess:${sid}`)).resolves.toBe(0);
    expect((await agent.get('/me')).status).toBe(401);
  });

  test.each(['POST /unlink', 'the unlink webhook'])(
    "%s deletes every record of the user at once and ends every session, nobody else's",
    async (how) => {
      const userId = newUser(h);
      const browsers = [h.agent(), h.agent(), h.agent()];
      const sids: string[] = [];
      for (const browser of browsers) sids.push(sessionId(await loginAs(h, browser, userId)));
      const bystander = h.agent();
      await loginAs(h, bystander, newUser(h));
      await expect(loginCount(redis, userKey(userId))).resolves.toBe(3);

      await endAllLogins(h, how, userId, browsers[0]!);

      await expect(redis.exists(userKey(userId))).resolves.toBe(0);
      for (const [i, browser] of browsers.entries()) {
        expect({ login: i, status: (await browser.get('/me')).status }).toEqual({ login: i, status: 401 });
        await expect(redis.exists(`kle:sess:${sids[i]}`)).resolves.toBe(0);
      }
      expect((await bystander.get('/me')).status).toBe(200);
    },
  );
});

describe('with refresh tokens shorter than the login (the refresh token decides)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let h: Harness;
  let offsetMs = 0;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = (await inspector({ url: server.url })) as Redis;
    h = await startHarness({
      env: { REDIS_URL: server.url, SESSION_SECRET: 'r'.repeat(40) },
      emulator: { refreshTokenTtlSeconds: 3 * HOUR },
      overrides: { now: () => Date.now() + offsetMs },
    });
  });
  afterAll(async () => {
    await h?.close();
    await quitIoredis(redis);
    await server?.kill();
  });

  test("the record's TTL is the refresh token's 3 h, and a rotation renews it by the new token's lifetime", async () => {
    const userId = newUser(h);
    const agent = h.agent();
    const loggedInAt = Date.now();
    const sid = sessionId(await loginAs(h, agent, userId));
    expectWithin(Number(await redis.pttl(userKey(userId))), 3 * HOUR * 1000, TEN_MINUTES_MS);
    expectWithin((await fieldExpiry(redis, userId, sid))! - loggedInAt, 3 * HOUR * 1000, TEN_MINUTES_MS);
    // The login outlives its tokens: it stays listed (no tokens) until the session's end, for unlink.
    await expect(redis.get(listKey(userId))).resolves.toMatch(new RegExp(`^${sid} [0-9a-z]+$`));
    expectWithin(Number(await redis.pttl(listKey(userId))), TWELVE_HOURS * 1000, TEN_MINUTES_MS);

    // Two hours in, a refresh rotates the refresh token (it has less than a month left): 3 h more.
    offsetMs = 2 * HOUR * 1000;
    h.emulator.expireAccessTokens(userId);
    h.emulator.resetRequests();
    expect((await agent.get('/me/kakao')).status).toBe(200);
    const refreshes = h.emulator.requests.filter((r) => r.form.grant_type === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    // (The example app's RedisTokenStore keeps the real clock, so its expiries count from real time.)
    expectWithin((await fieldExpiry(redis, userId, sid))! - Date.now(), 3 * HOUR * 1000, TEN_MINUTES_MS);
    expectWithin(Number(await redis.pttl(userKey(userId))), 3 * HOUR * 1000, TEN_MINUTES_MS);
  });
});

describe('with refresh tokens that end before the session (3 s here)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let h: Harness;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = (await inspector({ url: server.url })) as Redis;
    h = await startHarness({
      env: { REDIS_URL: server.url, SESSION_SECRET: 'e'.repeat(40) },
      emulator: { refreshTokenTtlSeconds: 3 },
    });
  });
  afterAll(async () => {
    await h?.close();
    await quitIoredis(redis);
    await server?.kill();
  });

  /** Logs a fresh browser in and waits (real time: Redis keeps the TTLs) until its record has expired. */
  async function loginAndOutliveTokens(userId: string): Promise<{ browser: supertest.Agent; sid: string }> {
    const browser = h.agent();
    const sid = sessionId(await loginAs(h, browser, userId));
    const deadline = Date.now() + 8000;
    while ((await redis.exists(userKey(userId))) === 1 && Date.now() < deadline) await sleep(200);
    await expect(redis.exists(userKey(userId))).resolves.toBe(0);
    // The session lives on, and the login stays listed until the session's end.
    expect((await browser.get('/me')).status).toBe(200);
    await expect(redis.get(listKey(userId))).resolves.toMatch(new RegExp(`^${sid} [0-9a-z]+$`));
    return { browser, sid };
  }

  test.each(['POST /unlink', 'the unlink webhook'])(
    '%s also ends a session whose record has already expired',
    async (how) => {
      const userId = newUser(h);
      const orphan = await loginAndOutliveTokens(userId);
      // (POST /unlink needs the clicking browser's tokens: this login's last 3 s.)
      const first = h.agent();
      const firstSid = sessionId(await loginAs(h, first, userId));

      await endAllLogins(h, how, userId, first);

      for (const [browser, sid] of [
        [first, firstSid],
        [orphan.browser, orphan.sid],
      ] as const) {
        expect({ sid, status: (await browser.get('/me')).status }).toEqual({ sid, status: 401 });
        await expect(redis.exists(`kle:sess:${sid}`)).resolves.toBe(0);
      }
      await expect(redis.exists(userKey(userId), listKey(userId))).resolves.toBe(0);
    },
  );

  test('a call to Kakao after the refresh token ended is reauth_required: the session ends and its listing goes', async () => {
    const userId = newUser(h);
    const { browser, sid } = await loginAndOutliveTokens(userId);
    h.emulator.resetRequests();
    const res = await browser.get('/me/kakao');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'reauth_required' });
    // Nothing was sent to Kakao for a login the store holds no tokens of.
    expect(h.emulator.requests.filter((r) => r.endpoint === 'token')).toEqual([]);
    await expect(redis.exists(`kle:sess:${sid}`, listKey(userId))).resolves.toBe(0);
    expect((await browser.get('/me')).status).toBe(401);
  });
});
