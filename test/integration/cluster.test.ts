/**
 * Token vaults and the example app on a private three-master Redis Cluster. The store contract itself
 * runs on the cluster in token-store.test.ts; here: users really spread over the masters, single-flight
 * refresh across two "processes" (two clients, two vaults) on each client library, the refresh lock in
 * the user's slot, and a whole login/logout through the example app.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import supertest from 'supertest';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { createApp } from '../../example-app/app';
import { loadConfig } from '../../example-app/config';
import { fromIoRedis } from '../../example-app/redis';
import { KakaoClient } from '../../lib/kakao-client';
import { createPkcePair } from '../../lib/pkce';
import { markerNames, type LoginKey } from '../../lib/stores/contracts';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import { createTokenCipher } from '../../lib/token-cipher';
import { TokenVault } from '../../lib/tokens';
import { authorizeAtEmulator } from '../helpers/harness';
import { connectClient, inspector, quitIoredis, type ConnectedClient } from '../helpers/redis-clients';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster';
import { uniquePrefix } from '../helpers/redis-server';
import { storedLogins } from '../helpers/user-logins';

const MINJI = '4120937465';
const prefix = uniquePrefix('cluster');

let redisCluster: RedisClusterHandle;
let emulator: KakaoEmulator;
let cluster: Cluster;
const clients: ConnectedClient[] = [];

async function keySlot(key: string): Promise<number> {
  return Number(await cluster.cluster('KEYSLOT', key));
}

/** Every key matching `pattern` on every master. */
async function scanAll(pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for (const node of cluster.nodes('master')) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
  }
  return keys;
}

function newUser(): string {
  return `${Date.now() % 1e6}${randomBytes(3).readUIntBE(0, 3)}`;
}

beforeAll(async () => {
  redisCluster = await startRedisCluster();
  emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
  cluster = (await inspector({ nodes: redisCluster.nodes })) as Cluster;
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await quitIoredis(cluster);
  await emulator?.close();
  await redisCluster?.kill();
});

test('the cluster has three masters and users land on every one of them', async () => {
  expect(cluster.nodes('master')).toHaveLength(3);
  const owners = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const slot = await keySlot(`${prefix}u:{${newUser()}}`);
    owners.add(cluster.slots[slot]![0]!);
  }
  expect(owners.size).toBe(3);
});

describe.each(['ioredis-cluster', 'node-redis-cluster'] as const)('TokenVaults on two %s clients', (kind) => {
  /** Logs a user in at the emulator directly and returns the token response. */
  async function tokensFor(userId: string, client: KakaoClient) {
    const { verifier, challenge } = createPkcePair();
    const redirectUri = 'http://127.0.0.1:9/callback';
    const url = new URL('/oauth/authorize', emulator.authOrigin);
    url.search = new URLSearchParams({
      client_id: emulator.clientID,
      redirect_uri: redirectUri,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'cluster-test',
    }).toString();
    const callback = await authorizeAtEmulator(url.toString(), userId);
    return client.exchangeCode({
      code: callback.searchParams.get('code')!,
      redirectUri,
      codeVerifier: verifier,
    });
  }

  function refreshCalls(): number {
    return emulator.requests.filter((r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token')
      .length;
  }

  /** Two vaults, as two processes would have, over two cluster clients, with one login saved. */
  async function twoProcesses() {
    const cipher = createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] });
    const kakao = new KakaoClient({
      clientID: emulator.clientID,
      authOrigin: emulator.authOrigin,
      apiOrigin: emulator.apiOrigin,
    });
    const clock = { offsetMs: 0 };
    const now = () => Date.now() + clock.offsetMs;
    const vaults: TokenVault[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await connectClient(kind, { nodes: redisCluster.nodes });
      clients.push(c);
      const store = new RedisTokenStore({ client: c.client, prefix, now });
      vaults.push(new TokenVault({ store, markers: store.markers, cipher, client: kakao, now }));
    }
    const key: LoginKey = { userId: MINJI, sessionId: `sess-${randomBytes(6).toString('hex')}` };
    await vaults[0]!.save(key, await tokensFor(MINJI, kakao), { loginEndsAt: now() + 12 * 3600_000 });
    return { kakao, clock, vaults, key };
  }

  test('50 concurrent getAccessToken calls on two vaults make one refresh call', async () => {
    const { kakao, clock, vaults, key } = await twoProcesses();
    const original = await vaults[1]!.getAccessToken(key);
    // Seven hours later the access token has expired for every process at once.
    clock.offsetMs = 7 * 3600_000;
    emulator.resetRequests();
    emulator.injectFault({ endpoint: 'token', kind: 'delay', delayMs: 200, times: 1 });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => vaults[i % 2]!.getAccessToken(key)),
    );

    expect(refreshCalls()).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).not.toBe(original);
    await expect(kakao.getUser(results[0]!)).resolves.toMatchObject({ id: MINJI });
  });

  test("the refresh lock lives in the slot of the user's token hash", async () => {
    const { clock, vaults, key } = await twoProcesses();
    clock.offsetMs = 7 * 3600_000;
    // A slow refresh keeps the lock held long enough to be seen.
    emulator.injectFault({ endpoint: 'token', kind: 'delay', delayMs: 300, times: 1 });
    const refreshing = vaults[0]!.getAccessToken(key);
    const lockKey = prefix + markerNames.refreshLock(key);
    let seen = 0;
    for (let i = 0; i < 100 && seen === 0; i++) {
      seen = await cluster.exists(lockKey);
      if (seen === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await refreshing;
    expect(seen).toBe(1);
    await expect(keySlot(lockKey)).resolves.toBe(await keySlot(`${prefix}u:{${key.userId}}`));
    await expect(cluster.exists(lockKey)).resolves.toBe(0);
  });
});

describe('the example app with sessions and tokens on the Cluster', () => {
  let server: http.Server;
  let url: string;
  let appCluster: ConnectedClient;
  beforeAll(async () => {
    appCluster = await connectClient('ioredis-cluster', { nodes: redisCluster.nodes });
    clients.push(appCluster);
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      KAKAO_CLIENT_ID: emulator.clientID,
      KAKAO_AUTH_ORIGIN: emulator.authOrigin,
      KAKAO_API_ORIGIN: emulator.apiOrigin,
      KAKAO_CALLBACK_URL: `${url}/auth/kakao/callback`,
    });
    const { app } = createApp({
      config,
      callbackURL: `${url}/auth/kakao/callback`,
      redis: fromIoRedis(appCluster.client as Cluster, 'cluster'),
      logger: () => {},
    });
    server.on('request', app);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a login stores its session and one token field in the Cluster, /me works, and logout removes both', async () => {
    const agent = supertest.agent(url);
    const start = await agent.get('/auth/kakao').redirects(0);
    expect(start.status).toBe(302);
    const callback = await authorizeAtEmulator(start.headers.location!, MINJI);
    const done = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe('/');

    await expect(agent.get('/me').expect(200)).resolves.toMatchObject({ body: { id: MINJI } });
    await agent.get('/me/kakao').expect(200);
    const sessionKeys = await scanAll('kle:sess:*');
    expect(sessionKeys).toHaveLength(1);
    const ttl = await cluster.ttl(sessionKeys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30 * 60);
    const sid = sessionKeys[0]!.slice('kle:sess:'.length);
    const userKey = `kle:u:{${MINJI}}`;
    expect(await scanAll(`kle:*{${MINJI}}*`)).toEqual([userKey]);
    expect(Object.keys(await storedLogins(cluster, userKey))).toEqual([sid]);

    await agent.post('/logout').set('Origin', url).expect(302);
    await agent.get('/me').expect(401);
    await expect(cluster.exists(userKey)).resolves.toBe(0);
    await expect(scanAll('kle:sess:*')).resolves.toEqual([]);
    // The logout's tombstone sits in the user's slot.
    const tombstones = await scanAll(`kle:e:{${MINJI}}:*`);
    expect(tombstones).toEqual([`kle:e:{${MINJI}}:${sid}`]);
    await expect(keySlot(tombstones[0]!)).resolves.toBe(await keySlot(userKey));
  });
});
