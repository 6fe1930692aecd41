/**
 * Redis Sentinel failover under load: one master, one replica (its link 150 ms behind), three
 * sentinels (quorum 2, down-after 1 s); two example-app processes with REDIS_SENTINELS; the master is
 * SIGKILLed (its unsent replication bytes lost, as with a crashed host) while users log in, read
 * their profile and refresh rotating tokens. Needs `npm run build` first.
 */

import { startRedisSentinel, type RedisSentinelHandle } from '../helpers/redis-sentinel';
import { requireBuild } from './app-process';
import { CLIENT_TIMEOUT_MS, resultLine, runFailoverScenario, type FailoverResult } from './scenario';

/** The replication link's delay: a replica 150 ms behind, as under load or after a network hiccup. */
const REPLICA_LAG_MS = 150;

/** The suite for one client library (the example app's REDIS_CLIENT). */
export function sentinelFailover(client: 'ioredis' | 'node-redis'): void {
  let sentinel: RedisSentinelHandle;
  let result: FailoverResult;

  beforeAll(async () => {
    requireBuild();
    sentinel = await startRedisSentinel({ replicaLagMs: REPLICA_LAG_MS });
    result = await runFailoverScenario({
      name: 'sentinel',
      env: {
        REDIS_CLIENT: client,
        REDIS_SENTINELS: sentinel.sentinelList,
        REDIS_MASTER_NAME: sentinel.masterName,
      },
      onVictim: async () => true,
      killMaster: () => sentinel.killMaster(),
      waitForPromotion: (port) => sentinel.waitForPromotion(port),
      keys: (pattern) => sentinel.keys(pattern),
      del: (keys) => sentinel.del(keys),
    });
    process.stdout.write(`${resultLine(result)}\n`);
    if (process.env.FAILOVER_DETAILS) process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  }, 90_000);

  afterAll(async () => {
    await sentinel?.kill();
  });

  describe(`a Sentinel failover under login load (two app processes, master SIGKILLed), ${client}`, () => {
    test('a full login succeeds within 10 s of the kill', () => {
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

    test('/healthz reports the outage and then the recovery', () => {
      expect(Object.keys(result.healthzStates).some((state) => state.startsWith('503'))).toBe(true);
      expect(result.finalHealth).toEqual([
        '200 {"ok":true,"redis":"ready","topology":"sentinel"}',
        '200 {"ok":true,"redis":"ready","topology":"sentinel"}',
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
