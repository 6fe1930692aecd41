/**
 * Redis Cluster failover under load: three masters with one replica each (cluster-node-timeout
 * 1000 ms); two example-app processes with REDIS_CLUSTER_NODES; the master that holds the logged-in
 * users' token keys (their `{userId}` slot) is SIGKILLed while users log in, read their profile and
 * refresh rotating tokens. Sessions hash across all three masters, so a third of them lives on the
 * victim too. Needs `npm run build` first.
 */

import { keySlot, startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster';
import { requireBuild } from './app-process';
import { CLIENT_TIMEOUT_MS, resultLine, runFailoverScenario, type FailoverResult } from './scenario';

/** The user whose slot picks the victim master; every user of the scenario shares that master. */
const FIRST_USER = '8200000001';

/** The suite for one client library (the example app's REDIS_CLIENT). */
export function clusterFailover(client: 'ioredis' | 'node-redis'): void {
  let cluster: RedisClusterHandle;
  let result: FailoverResult;

  beforeAll(async () => {
    requireBuild();
    cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1000 });
    const victim = await cluster.masterOfSlot(keySlot(`{${FIRST_USER}}`));
    result = await runFailoverScenario({
      name: 'cluster',
      env: { REDIS_CLIENT: client, REDIS_CLUSTER_NODES: cluster.nodeList },
      onVictim: async (userId) => (await cluster.masterOfSlot(keySlot(`{${userId}}`))) === victim,
      killMaster: () => cluster.killMasterOfSlot(keySlot(`{${FIRST_USER}}`)),
      waitForPromotion: (port) => cluster.waitForPromotion(keySlot(`{${FIRST_USER}}`), port),
      keys: (pattern) => cluster.keys(pattern),
      del: (keys) => cluster.del(keys),
    });
    process.stdout.write(`${resultLine(result)}\n`);
    if (process.env.FAILOVER_DETAILS) process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  }, 90_000);

  afterAll(async () => {
    await cluster?.kill();
  });

  describe(`a Cluster failover under login load (two app processes, the users’ master SIGKILLed), ${client}`, () => {
    test('a full login of a user on the failed master succeeds within 10 s of the kill', () => {
      expect(result.recoveryMs).not.toBeNull();
      expect(result.recoveryMs!).toBeLessThanOrEqual(10_000);
    });

    test('no bare 500, every 503 has Retry-After, no status outside each route’s allowed set', () => {
      expect(result.bare500).toBe(0);
      expect(result.unavailableWithoutRetryAfter).toBe(0);
      expect(result.unexpected).toEqual([]);
    });

    test(`no request hangs (client timeout ${CLIENT_TIMEOUT_MS} ms), /healthz answers within about 1 s`, () => {
      expect(result.timeouts).toBe(0);
      expect(result.maxLatencyMs).toBeLessThan(CLIENT_TIMEOUT_MS);
      expect(result.healthzMaxMs).toBeLessThanOrEqual(1200);
    });

    test('/healthz reports the lost master and then the recovery', () => {
      expect(Object.keys(result.healthzStates).some((state) => state.startsWith('503'))).toBe(true);
      expect(result.finalHealth).toEqual([
        '200 {"ok":true,"redis":"ready","topology":"cluster"}',
        '200 {"ok":true,"redis":"ready","topology":"cluster"}',
      ]);
    });

    test('every login made more than 2 s before the kill still has /me and /me/kakao on both apps', () => {
      expect(result.lostLogins).toEqual([]);
    });

    test('a refresh token rotated right before the kill is kept', () => {
      expect(result.lostRotationsBeforeKill).toEqual([]);
    });

    test('a refresh token rotated while the master dies is kept', () => {
      expect(result.lostRotationsAtKill).toEqual([]);
    });

    test('no app process restarted', () => {
      expect(result.restarts).toBe(0);
    });
  });
}
