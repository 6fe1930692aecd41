/**
 * The example app's Redis settings (REDIS_URL, REDIS_SENTINELS, REDIS_MASTER_NAME,
 * REDIS_CLUSTER_NODES, REDIS_CLIENT): what it accepts, and that anything it cannot use stops the
 * start (exit code 1, a message with the fix) instead of falling back to memory.
 */

import { ConfigError, loadConfig } from '../../example-app/config';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { requireBuild, runAppToExit, startAppProcess } from './app-process';

const base = { KAKAO_CLIENT_ID: 'rest-key' };

function problemOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('Redis settings', () => {
  test('no Redis variable: memory (development)', () => {
    expect(loadConfig(base).redis).toBeUndefined();
  });

  test('REDIS_URL: one server, ioredis by default', () => {
    expect(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6390' }).redis).toEqual({
      client: 'ioredis',
      topology: 'single',
      url: 'redis://127.0.0.1:6390',
    });
  });

  test('REDIS_SENTINELS alone: Sentinel with the master name mymaster', () => {
    expect(loadConfig({ ...base, REDIS_SENTINELS: ' s1:26379, 10.0.0.2:26380 ,[::1]:26381' }).redis).toEqual({
      client: 'ioredis',
      topology: 'sentinel',
      masterName: 'mymaster',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    });
  });

  test('REDIS_SENTINELS with REDIS_MASTER_NAME, and node-redis by REDIS_CLIENT', () => {
    expect(
      loadConfig({
        ...base,
        REDIS_SENTINELS: 's1:26379',
        REDIS_MASTER_NAME: 'kle-main',
        REDIS_CLIENT: 'node-redis',
      }).redis,
    ).toEqual({
      client: 'node-redis',
      topology: 'sentinel',
      masterName: 'kle-main',
      sentinels: [{ host: 's1', port: 26379 }],
    });
  });

  test('REDIS_CLUSTER_NODES: the seed nodes of a Cluster', () => {
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: 'redis-a:6379,redis-b:6379' }).redis).toEqual({
      client: 'ioredis',
      topology: 'cluster',
      nodes: [
        { host: 'redis-a', port: 6379 },
        { host: 'redis-b', port: 6379 },
      ],
    });
  });

  test.each([
    [
      { REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 's1:26379' },
      /REDIS_URL and REDIS_SENTINELS are both set: set exactly one/,
    ],
    [
      { REDIS_SENTINELS: 's1:26379', REDIS_CLUSTER_NODES: 'c1:6379' },
      /REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/,
    ],
    [
      { REDIS_SENTINELS: 's1' },
      /REDIS_SENTINELS must be a comma-separated list of host:port .*"s1" is not one/,
    ],
    [{ REDIS_SENTINELS: 's1:0' }, /"s1:0" is not one/],
    [{ REDIS_SENTINELS: 's1:65536' }, /"s1:65536" is not one/],
    [{ REDIS_SENTINELS: 's1:26379,http://s2:26379' }, /"http:\/\/s2:26379" is not one/],
    [{ REDIS_SENTINELS: ',' }, /REDIS_SENTINELS is set but lists no host:port/],
    [
      { REDIS_CLUSTER_NODES: 'c1:6379 c2:6379' },
      /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/,
    ],
    [
      { REDIS_MASTER_NAME: 'mymaster' },
      /REDIS_MASTER_NAME is set without REDIS_SENTINELS: .*set REDIS_SENTINELS=host:port/,
    ],
    [
      { REDIS_SENTINELS: 's1:26379', REDIS_MASTER_NAME: 'my master' },
      /REDIS_MASTER_NAME must be the name from "sentinel monitor/,
    ],
    [
      { REDIS_URL: 'redis://r:6379', REDIS_CLIENT: 'redis' },
      /REDIS_CLIENT must be "ioredis" \(the default\) or "node-redis"/,
    ],
    [{ REDIS_CLIENT: 'ioredis' }, /REDIS_CLIENT is set but no Redis is configured/],
    [{ REDIS_URL: 'http://r:6379' }, /REDIS_URL must be a redis:\/\/host:port or rediss:\/\/host:port URL/],
  ])('refuses %j with a message that names the fix', (env, message) => {
    expect(problemOf(env)).toMatch(message);
  });

  test('a REDIS_URL it cannot use is not echoed (it may carry a password)', () => {
    expect(problemOf({ REDIS_URL: 'redis//:s3cret-pass@host:6379' })).not.toContain('s3cret-pass');
  });

  const production = {
    NODE_ENV: 'production',
    KAKAO_CLIENT_ID: 'rest-key',
    KAKAO_CALLBACK_URL: 'https://app.example/auth/kakao/callback',
    SESSION_SECRET: 'x'.repeat(40),
    TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  };
  test.each([
    [{ REDIS_URL: 'rediss://r:6380' }, 'single'],
    [{ REDIS_SENTINELS: 's1:26379,s2:26379,s3:26379' }, 'sentinel'],
    [{ REDIS_CLUSTER_NODES: 'c1:6379,c2:6379' }, 'cluster'],
  ])('production accepts %j', (env, topology) => {
    expect(loadConfig({ ...production, ...env }).redis?.topology).toBe(topology);
  });

  test('production without any Redis names all three variables', () => {
    expect(() => loadConfig(production)).toThrow(
      /A Redis is required in production: REDIS_URL .*REDIS_SENTINELS .*REDIS_CLUSTER_NODES/,
    );
  });

  test('KAKAO_SCOPES unset: no scope at all; set: exactly those', () => {
    expect(loadConfig(base).scopes).toEqual([]);
    expect(loadConfig({ ...base, KAKAO_SCOPES: 'profile_nickname, account_email' }).scopes).toEqual([
      'profile_nickname',
      'account_email',
    ]);
  });
});

describe('the built app with a Redis setting it cannot use', () => {
  beforeAll(() => requireBuild());

  test.each([
    [{ REDIS_SENTINELS: '127.0.0.1' }, /REDIS_SENTINELS must be a comma-separated list of host:port/],
    [{ REDIS_URL: 'redis://127.0.0.1:9', REDIS_CLUSTER_NODES: '127.0.0.1:9' }, /set exactly one/],
    [{ REDIS_MASTER_NAME: 'mymaster' }, /REDIS_MASTER_NAME is set without REDIS_SENTINELS/],
  ])('%j: exits with code 1 and the fix, never listening on memory stores', async (env, message) => {
    const { code, output } = await runAppToExit({ PORT: '0', HOST: '127.0.0.1', ...env });
    expect(code).toBe(1);
    expect(output).toMatch(message);
    expect(output).not.toMatch(/listening on/);
  });
});

describe('/healthz of the built app on one Redis', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    requireBuild();
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  test('reports ready, then the outage within 1 s, then the recovery', async () => {
    const app = await startAppProcess({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: redis.url });
    try {
      const health = async () => {
        const started = Date.now();
        const res = await fetch(`${app.url}/healthz`, { signal: AbortSignal.timeout(3000) });
        return { status: res.status, body: (await res.json()) as unknown, ms: Date.now() - started };
      };
      expect(await health()).toMatchObject({
        status: 200,
        body: { ok: true, redis: 'ready', topology: 'single' },
      });
      await redis.stop();
      const down = await health();
      expect(down).toMatchObject({ status: 503, body: { ok: false, topology: 'single' } });
      expect(down.ms).toBeLessThan(1000);
      await redis.start();
      const deadline = Date.now() + 10_000;
      let last = await health();
      while (last.status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        last = await health();
      }
      expect(last).toMatchObject({ status: 200, body: { ok: true, redis: 'ready' } });
      expect(app.exited()).toBe(false);
    } finally {
      await app.stop();
    }
  }, 30_000);
});
