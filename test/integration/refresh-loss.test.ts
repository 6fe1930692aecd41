/**
 * Never lose a rotated refresh token (issue 10.5).
 *
 * (a) Redis refuses writes (`min-replicas-to-write 1` on a master without replicas: NOREPLICAS for writes,
 *     reads still served) while Kakao rotates the refresh token: the request still works, the new set is
 *     used by later requests of that process, `token_write_failed` is logged, and once writes work again
 *     Redis holds the new refresh token. Through the example app, with its tokens on a Redis of their own
 *     (sessions stay on another one), over both client libraries.
 * (b) The refresh reaches Kakao but its response is lost (emulator faults `hang` and `drop` on the token
 *     endpoint, which process the request first): no blind retry (exactly one refresh request per
 *     attempt), and the vault re-reads the store, where another process may have written the result.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisTokenStore, type KakaoLogEvent } from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { KakaoResponseError, KakaoTokenError } from '../../lib/errors';
import { KakaoClient } from '../../lib/kakao-client';
import { createPkcePair } from '../../lib/pkce';
import type { LoginKey } from '../../lib/stores/contracts';
import { createTokenCipher, type TokenCipher } from '../../lib/token-cipher';
import { TokenVault } from '../../lib/tokens';
import { authorizeAtEmulator, leakedSecrets, login, startHarness, type Harness } from '../helpers/harness';
import { connectClient, inspector, quitIoredis, type ConnectedClient } from '../helpers/redis-clients';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server';
import { loginIds, loginValue } from '../helpers/user-logins';

const DAY = 86_400;
const HOUR_MS = 3600_000;
const PURPOSE = 'kakao-tokens';

interface Record {
  a: string;
  r: string;
}

/** A stored record's tokens: the plaintext is tab-separated, access token first, then refresh token. */
function openRecord(cipher: TokenCipher, value: string, key: LoginKey): Record {
  const sealed = value.slice(value.indexOf('|') + 1);
  const [a, r] = cipher.open(sealed, { purpose: PURPOSE, ...key }).plaintext.split('\t') as [string, string];
  return { a, r };
}

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function refreshRequests(emulator: KakaoEmulator) {
  return emulator.requests.filter((r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token');
}

let nextUser = 6_300_000_000;

describe.each(['ioredis', 'node-redis'] as const)(
  'Redis refuses the write of a rotated refresh token (%s token store)',
  (kind) => {
    let sessionServer: RedisServerHandle;
    let tokenServer: RedisServerHandle;
    let tokenRedis: Redis;
    let client: ConnectedClient;
    let h: Harness;
    const key = randomBytes(32);
    const cipher = createTokenCipher({ keys: [{ kid: 'k1', key }] });

    beforeAll(async () => {
      sessionServer = await startRedisServer();
      tokenServer = await startRedisServer();
      tokenRedis = (await inspector({ url: tokenServer.url })) as Redis;
      client = await connectClient(kind, { url: tokenServer.url });
      h = await startHarness({
        env: {
          REDIS_URL: sessionServer.url,
          SESSION_SECRET: 'w'.repeat(40),
          TOKEN_ENCRYPTION_KEYS: `k1:${key.toString('base64')}`,
        },
        overrides: { tokenStore: new RedisTokenStore({ client: client.client, prefix: 'kle:' }) },
      });
    });
    afterAll(async () => {
      await h?.close();
      await client?.close();
      await quitIoredis(tokenRedis);
      await tokenServer?.kill();
      await sessionServer?.kill();
    });
    afterEach(async () => {
      await tokenRedis.config('SET', 'min-replicas-to-write', '0');
    });

    test('the request works, later requests use the new set, the failure is logged, and Redis gets the new token once writes work', async () => {
      const userId = String(++nextUser);
      h.emulator.addUser({ id: userId });
      const agent = h.agent();
      expect((await login(h, agent, { loginHint: userId })).status).toBe(302);
      const userKey = `kle:u:{${userId}}`;
      const [sid] = await loginIds(tokenRedis, userKey);
      const loginKey = { userId, sessionId: sid! };
      const before = (await loginValue(tokenRedis, userKey, sid!))!;
      const old = openRecord(cipher, before, loginKey);

      // The refresh will rotate (10 days left); it is slow enough to stop writes while Kakao answers.
      h.emulator.setRefreshTokenRemaining(userId, 10 * DAY);
      h.emulator.expireAccessTokens(userId);
      h.emulator.resetRequests();
      h.emulator.injectFault({ endpoint: 'token', kind: 'delay', delayMs: 300, times: 1 });
      const first = agent.get('/me/kakao').then((res) => res);
      await waitFor(() => refreshRequests(h.emulator).length === 1, 'the refresh to reach Kakao');
      await tokenRedis.config('SET', 'min-replicas-to-write', '1');
      // Writes fail, reads still work.
      await expect(tokenRedis.set('kle:probe', '1')).rejects.toThrow(/NOREPLICAS/);
      await expect(loginValue(tokenRedis, userKey, sid!)).resolves.toBe(before);

      const firstRes = await first;
      expect(firstRes.status).toBe(200);
      expect(firstRes.body).toMatchObject({ id: userId });
      expect(h.events).toContainEqual(
        expect.objectContaining({ level: 'error', event: 'token_write_failed', userId }),
      );
      await expect(loginValue(tokenRedis, userKey, sid!)).resolves.toBe(before);

      // Writes still refused: later requests of this process use the rotated set it kept in memory. The
      // old access token is dead at Kakao, so a 200 without another refresh means the new one was used.
      for (let i = 0; i < 3; i++) expect((await agent.get('/me/kakao')).status).toBe(200);
      expect(refreshRequests(h.emulator)).toHaveLength(1);
      const bearers = h.emulator.requests
        .filter((r) => r.endpoint === 'user_me')
        .map((r) => String(r.headers.authorization));
      expect(bearers[0]).toBe(`Bearer ${old.a}`);
      const rotatedAccess = bearers.at(-1)!.slice('Bearer '.length);
      expect(rotatedAccess).not.toBe(old.a);

      // Writes work again: the kept set reaches Redis within moments (the next request also tries).
      await tokenRedis.config('SET', 'min-replicas-to-write', '0');
      expect((await agent.get('/me/kakao')).status).toBe(200);
      await waitFor(
        async () => (await loginValue(tokenRedis, userKey, sid!)) !== before,
        'the kept set in Redis',
      );
      const after = (await loginValue(tokenRedis, userKey, sid!))!;
      const stored = openRecord(cipher, after, loginKey);
      expect(stored.a).toBe(rotatedAccess);
      expect(stored.r).not.toBe(old.r);
      expect(h.events).toContainEqual(expect.objectContaining({ event: 'token_write_recovered', userId }));

      // And Kakao agrees: the old refresh token is dead, the stored one is the live one.
      const kakao = new KakaoClient({
        clientID: h.emulator.clientID,
        authOrigin: h.emulator.authOrigin,
        apiOrigin: h.emulator.apiOrigin,
      });
      await expect(kakao.refreshToken(old.r)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(kakao.refreshToken(stored.r)).resolves.toMatchObject({ access_token: expect.any(String) });
      // No token in any log line.
      expect(leakedSecrets(JSON.stringify(h.events), h.emulator.issuedSecrets())).toEqual([]);
    });
  },
);

describe.each(['ioredis', 'node-redis'] as const)('a refresh whose response is lost (%s)', (kind) => {
  let server: RedisServerHandle;
  let client: ConnectedClient;
  let emulator: KakaoEmulator;
  const clock = { offsetMs: 0 };
  const now = () => Date.now() + clock.offsetMs;
  const cipher = createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] });
  const events: KakaoLogEvent[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    client = await connectClient(kind, { url: server.url });
    emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
  });
  afterAll(async () => {
    await emulator?.close();
    await client?.close();
    await server?.kill();
  });
  beforeEach(() => {
    clock.offsetMs = 0;
    emulator.clearFaults();
  });

  const kakaoClient = (timeoutMs: number) =>
    new KakaoClient({
      clientID: emulator.clientID,
      authOrigin: emulator.authOrigin,
      apiOrigin: emulator.apiOrigin,
      timeoutMs,
    });

  function vault(store: RedisTokenStore, kakao: KakaoClient, lockTtlMs?: number): TokenVault {
    return new TokenVault({
      store,
      markers: store.markers,
      cipher,
      client: kakao,
      now,
      logger: (e) => events.push(e),
      ...(lockTtlMs !== undefined && { lockTtlMs }),
    });
  }

  /** A fresh user logged in at the emulator, its tokens saved through `v`; seven hours later (refresh due). */
  async function loggedIn(v: TokenVault, kakao: KakaoClient): Promise<LoginKey> {
    const userId = String(++nextUser);
    emulator.addUser({ id: userId });
    const { verifier, challenge } = createPkcePair();
    const redirectUri = 'http://127.0.0.1:9/callback';
    const url = new URL('/oauth/authorize', emulator.authOrigin);
    url.search = new URLSearchParams({
      client_id: emulator.clientID,
      redirect_uri: redirectUri,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'lost-response',
    }).toString();
    const callback = await authorizeAtEmulator(url.toString(), userId);
    const tokens = await kakao.exchangeCode({
      code: callback.searchParams.get('code')!,
      redirectUri,
      codeVerifier: verifier,
    });
    const key = { userId, sessionId: randomBytes(16).toString('base64url') };
    await v.save(key, tokens, { loginEndsAt: now() + 12 * HOUR_MS });
    clock.offsetMs = 7 * HOUR_MS;
    emulator.resetRequests();
    return key;
  }

  test('a timed-out refresh (Kakao processed it) is not retried, and the record stays', async () => {
    const store = new RedisTokenStore({ client: client.client, prefix: uniquePrefix('lost'), now });
    const kakao = kakaoClient(400);
    const v = vault(store, kakao);
    const key = await loggedIn(v, kakao);
    const sealed = await store.get(key);
    emulator.injectFault({ endpoint: 'token', kind: 'hang', times: 1 });
    const error = await v.getAccessToken(key).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KakaoResponseError);
    expect((error as KakaoResponseError).reason).toBe('timeout');
    expect(refreshRequests(emulator)).toHaveLength(1);
    await expect(store.get(key)).resolves.toBe(sealed);
    // The next attempt makes exactly one more refresh request, and succeeds (no rotation: the token lives).
    await expect(v.getAccessToken(key)).resolves.toEqual(expect.any(String));
    expect(refreshRequests(emulator)).toHaveLength(2);
  });

  test('a refresh whose connection drops after Kakao processed it is not retried', async () => {
    const store = new RedisTokenStore({ client: client.client, prefix: uniquePrefix('lost'), now });
    const kakao = kakaoClient(2000);
    const v = vault(store, kakao);
    const key = await loggedIn(v, kakao);
    const sealed = await store.get(key);
    emulator.injectFault({ endpoint: 'token', kind: 'drop', times: 1 });
    const outcome = await v.getAccessToken(key).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(refreshRequests(emulator)).toHaveLength(1);
    expect(outcome).toBeInstanceOf(KakaoResponseError);
    await expect(store.get(key)).resolves.toBe(sealed);
  });

  test('when the lost refresh rotated the token, the attempt still makes one request and deletes nothing', async () => {
    const store = new RedisTokenStore({ client: client.client, prefix: uniquePrefix('lost'), now });
    const kakao = kakaoClient(2000);
    const v = vault(store, kakao);
    const key = await loggedIn(v, kakao);
    emulator.setRefreshTokenRemaining(key.userId, 10 * DAY);
    emulator.injectFault({ endpoint: 'token', kind: 'drop', times: 1 });
    const outcome = await v.getAccessToken(key).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    const presented = refreshRequests(emulator).map((r) => r.form.refresh_token);
    expect(presented).toHaveLength(1);
    // A blind retry would present the token Kakao has just revoked (KOE322) and log the user out.
    expect(outcome).not.toBeInstanceOf(KakaoTokenError);
    expect(outcome).toBeInstanceOf(KakaoResponseError);
    await expect(store.get(key)).resolves.toEqual(expect.any(String));
  });

  test('on a lost response the vault re-reads the store: another process may have written the result', async () => {
    const store = new RedisTokenStore({ client: client.client, prefix: uniquePrefix('lost'), now });
    // Process A: its lock outlives nothing (300 ms) and its refresh hangs until its 1.5 s timeout.
    const a = vault(store, kakaoClient(1500), 300);
    // Process B: a normal refresh once A's lock has expired.
    const kakaoB = kakaoClient(2000);
    const b = vault(store, kakaoB);
    const key = await loggedIn(b, kakaoB);
    emulator.injectFault({ endpoint: 'token', kind: 'hang', times: 1 });
    const fromA = a.getAccessToken(key);
    await waitFor(() => refreshRequests(emulator).length === 1, "A's refresh to reach Kakao");
    await new Promise((resolve) => setTimeout(resolve, 400));
    const fromB = await b.getAccessToken(key);
    expect(refreshRequests(emulator)).toHaveLength(2);
    // A's request times out; instead of failing (or refreshing again) it finds B's result in the store.
    await expect(fromA).resolves.toBe(fromB);
    expect(refreshRequests(emulator)).toHaveLength(2);
    await expect(kakaoB.getUser(fromB)).resolves.toMatchObject({ id: key.userId });
  });
});
