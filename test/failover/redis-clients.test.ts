/**
 * The example app's Redis connection (example-app/redis.ts) for every topology and both client
 * libraries, against real servers: it becomes ready, `/healthz`'s check sees every master, and the
 * session store it builds reads back what it wrote.
 */

import { promisify } from 'node:util';
import type { SessionData, Store } from 'express-session';
import { consoleLogger } from 'kakao-login-express';
import { createRedis, type AppRedis, type RedisSettings } from '../../example-app/redis';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster';
import { startRedisSentinel, type RedisSentinelHandle } from '../helpers/redis-sentinel';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server';

let single: RedisServerHandle;
let sentinel: RedisSentinelHandle;
let cluster: RedisClusterHandle;
const opened: AppRedis[] = [];

beforeAll(async () => {
  [single, sentinel, cluster] = await Promise.all([
    startRedisServer(),
    startRedisSentinel(),
    startRedisCluster({ replicas: 1, nodeTimeoutMs: 1000 }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(opened.map((redis) => redis.close()));
  await Promise.allSettled([single?.kill(), sentinel?.kill(), cluster?.kill()]);
});

const settingsFor = (topology: string, client: 'ioredis' | 'node-redis'): RedisSettings =>
  topology === 'single'
    ? { client, topology: 'single', url: single.url }
    : topology === 'sentinel'
      ? { client, topology: 'sentinel', sentinels: sentinel.sentinels, masterName: sentinel.masterName }
      : { client, topology: 'cluster', nodes: cluster.nodes };

describe.each(['ioredis', 'node-redis'] as const)('%s', (client) => {
  test.each(['single', 'sentinel', 'cluster'])(
    '%s: ready, checked, sessions round-trip, closed',
    async (topology) => {
      const events: string[] = [];
      const redis = createRedis(settingsFor(topology, client), (event) => {
        events.push(event.event);
        if (event.level === 'error') consoleLogger(event);
      });
      opened.push(redis);
      expect(redis.topology).toBe(topology);
      expect(redis.library).toBe(client);
      await expect(redis.waitUntilReady(5000)).resolves.toBe(true);
      expect(redis.state()).toBe('ready');
      await expect(redis.check(900)).resolves.toBe('ready');

      const store: Store = redis.sessionStore({ prefix: uniquePrefix('sess'), ttlSeconds: 60 });
      const session = {
        cookie: { originalMaxAge: null },
        kakao: { id: '4120937465' },
      } as unknown as SessionData;
      await promisify(store.set.bind(store))('sid-1', session);
      await expect(promisify(store.get.bind(store))('sid-1')).resolves.toMatchObject({
        kakao: { id: '4120937465' },
      });
      await promisify(store.destroy.bind(store))('sid-1');
      await expect(promisify(store.get.bind(store))('sid-1')).resolves.toBeNull();

      await redis.close();
      expect(redis.state()).toBe('closed');
      expect(events).not.toContain('redis_unavailable');
    },
  );
});
