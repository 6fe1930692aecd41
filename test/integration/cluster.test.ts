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
import { createTokenCipher } from '../../lib/token-cipher';
import { RedisTokenStore, type TokenRecordKey } from '../../lib/token-store';
import { TokenVault } from '../../lib/tokens';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster';
import { authorizeAtEmulator } from '../helpers/harness';
import { uniquePrefix } from '../helpers/redis-server';

const REFRESH_TTL = 5_184_000;
const MINJI = '4120937465';
const prefix = uniquePrefix('cluster');

let redisCluster: RedisClusterHandle;
let emulator: KakaoEmulator;
const clients: Cluster[] = [];

/** A Cluster client configured as an application should: fail fast, reconnect in the background. */
async function connectCluster(): Promise<Cluster> {
  const cluster = new Cluster(redisCluster.nodes, {
    enableOfflineQueue: true,
    redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000 },
  });
  clients.push(cluster);
  await new Promise<void>((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('error', reject);
  });
  return cluster;
}

async function keySlot(cluster: Cluster, key: string): Promise<number> {
  return Number(await cluster.cluster('KEYSLOT', key));
}

/** Every key matching `pattern` on every master. */
async function scanAll(cluster: Cluster, pattern: string): Promise<string[]> {
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
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.quit()));
  for (const c of clients) c.disconnect();
  await emulator?.close();
  await redisCluster?.kill();
});

describe('RedisTokenStore on a three-master Redis Cluster', () => {
  let cluster: Cluster;
  let store: RedisTokenStore;
  beforeAll(async () => {
    cluster = await connectCluster();
    store = new RedisTokenStore({ client: cluster, prefix });
  });

  test('the cluster really has three masters and users land on more than one of them', async () => {
    expect(cluster.nodes('master')).toHaveLength(3);
    const owners = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const slot = await keySlot(cluster, `${prefix}idx:{${newUser()}}`);
      owners.add(cluster.slots[slot]![0]!);
    }
    expect(owners.size).toBeGreaterThan(1);
  });

  test('set, get, compareAndSet and delete work for users on every master', async () => {
    for (let i = 0; i < 20; i++) {
      const key = { userId: newUser(), sessionId: `s${i}` };
      await store.set(key, 'sealed-1', REFRESH_TTL);
      await expect(store.get(key)).resolves.toBe('sealed-1');
      await expect(store.compareAndSet(key, 'other', 'sealed-2', REFRESH_TTL)).resolves.toBe(false);
      await expect(store.compareAndSet(key, 'sealed-1', 'sealed-2', REFRESH_TTL)).resolves.toBe(true);
      await expect(store.get(key)).resolves.toBe('sealed-2');
      await expect(store.listUserRecords(key.userId)).resolves.toEqual([key]);
      await store.delete(key);
      await expect(store.get(key)).resolves.toBeUndefined();
      await expect(store.listUserRecords(key.userId)).resolves.toEqual([]);
    }
  });

  test("a user's records and session index share one slot, so deleteUser (the unlink path) removes them all", async () => {
    const userId = newUser();
    const sessions = Array.from({ length: 12 }, (_, i) => `sess-${i}-${randomBytes(4).toString('hex')}`);
    for (const sessionId of sessions)
      await store.set({ userId, sessionId }, `sealed-${sessionId}`, REFRESH_TTL);
    const keys = await scanAll(cluster, `${prefix}*{${userId}}*`);
    expect(keys).toHaveLength(sessions.length + 1);
    const slots = new Set(await Promise.all(keys.map((key) => keySlot(cluster, key))));
    expect(slots.size).toBe(1);

    const listed = await store.listUserRecords(userId);
    expect(listed.map((k) => k.sessionId).sort()).toEqual([...sessions].sort());
    await expect(store.deleteUser(userId)).resolves.toBe(sessions.length);
    await expect(scanAll(cluster, `${prefix}*{${userId}}*`)).resolves.toEqual([]);
    for (const sessionId of sessions) await expect(store.get({ userId, sessionId })).resolves.toBeUndefined();
  });

  test('locks are exclusive and released only by their owner', async () => {
    const name = `refresh:${newUser()}:s1`;
    const token = await store.acquireLock(name, 5000);
    expect(token).toEqual(expect.any(String));
    await expect(store.acquireLock(name, 5000)).resolves.toBeUndefined();
    await expect(store.releaseLock(name, 'not-the-owner')).resolves.toBe(false);
    await expect(store.releaseLock(name, token!)).resolves.toBe(true);
    const again = await store.acquireLock(name, 5000);
    expect(again).toEqual(expect.any(String));
    await store.releaseLock(name, again!);
  });
});

describe('TokenVault refreshes once across processes sharing a Cluster', () => {
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

  /** Two vaults, as two processes would have, over two Cluster clients, with one login saved. */
  async function twoProcesses() {
    const cipher = createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] });
    const kakao = new KakaoClient({
      clientID: emulator.clientID,
      authOrigin: emulator.authOrigin,
      apiOrigin: emulator.apiOrigin,
    });
    const clock = { offsetMs: 0 };
    const now = () => Date.now() + clock.offsetMs;
    const [clusterA, clusterB] = [await connectCluster(), await connectCluster()];
    const vaults = [clusterA, clusterB].map(
      (cluster) =>
        new TokenVault({
          store: new RedisTokenStore({ client: cluster, prefix }),
          cipher,
          client: kakao,
          now,
        }),
    );
    const key: TokenRecordKey = { userId: MINJI, sessionId: `sess-${randomBytes(6).toString('hex')}` };
    await vaults[0]!.save(key, await tokensFor(MINJI, kakao));
    return { kakao, clock, cluster: clusterA, vaults, key };
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

  test("the refresh lock lives in the slot of the user's token record", async () => {
    const { clock, cluster, vaults, key } = await twoProcesses();
    clock.offsetMs = 7 * 3600_000;
    // A slow refresh keeps the lock held long enough to be seen.
    emulator.injectFault({ endpoint: 'token', kind: 'delay', delayMs: 300, times: 1 });
    const refreshing = vaults[0]!.getAccessToken(key);
    let lockKeys: string[] = [];
    for (let i = 0; i < 100 && lockKeys.length === 0; i++) {
      lockKeys = await scanAll(cluster, `${prefix}lock:*`);
      if (lockKeys.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await refreshing;
    expect(lockKeys).toHaveLength(1);
    const recordSlot = await keySlot(cluster, `${prefix}tok:{${key.userId}}:${key.sessionId}`);
    await expect(keySlot(cluster, lockKeys[0]!)).resolves.toBe(recordSlot);
  });
});

describe('the example app with sessions and tokens on the Cluster', () => {
  let server: http.Server;
  let url: string;
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await connectCluster();
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
      redis: fromIoRedis(cluster, 'cluster'),
      logger: () => {},
    });
    server.on('request', app);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a login stores its session and tokens in the Cluster, /me works, and logout removes both', async () => {
    const agent = supertest.agent(url);
    const start = await agent.get('/auth/kakao').redirects(0);
    expect(start.status).toBe(302);
    const callback = await authorizeAtEmulator(start.headers.location!, MINJI);
    const done = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe('/');

    await expect(agent.get('/me').expect(200)).resolves.toMatchObject({ body: { id: MINJI } });
    await agent.get('/me/kakao').expect(200);
    const sessionKeys = await scanAll(cluster, 'kle:sess:*');
    expect(sessionKeys.length).toBeGreaterThanOrEqual(1);
    const ttl = await cluster.ttl(sessionKeys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30 * 60);
    const tokenKeys = await scanAll(cluster, `kle:*{${MINJI}}*`);
    expect(tokenKeys.length).toBe(2);
    const slots = new Set(await Promise.all(tokenKeys.map((key) => keySlot(cluster, key))));
    expect(slots.size).toBe(1);

    await agent.post('/logout').set('Origin', url).expect(302);
    await agent.get('/me').expect(401);
    await expect(scanAll(cluster, `kle:tok:{${MINJI}}:*`)).resolves.toEqual([]);
    // The login-start session was regenerated at login and the logged-in one destroyed at logout.
    await expect(scanAll(cluster, 'kle:sess:*')).resolves.toEqual([]);
  });
});
