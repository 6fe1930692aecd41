/**
 * Redis Sentinel failover under load: one master, one replica (its link 150 ms behind), three
 * sentinels (quorum 2, down-after 1 s); two example-app processes with REDIS_SENTINELS; the master is
 * SIGKILLed (its unsent replication bytes lost, as with a crashed host) while users log in, read
 * their profile and refresh rotating tokens. Needs `npm run build` first.
 */

import { startRedisSentinel } from '../helpers/redis-sentinel';
import { failoverSuite } from './failover-suite';

/** The replication link's delay: a replica 150 ms behind, as under load or after a network hiccup. */
const REPLICA_LAG_MS = 150;

/** The suite for one client library (the example app's REDIS_CLIENT). */
export function sentinelFailover(client: 'ioredis' | 'node-redis'): void {
  failoverSuite({
    title: `a Sentinel failover under login load (two app processes, master SIGKILLed), ${client}`,
    recoveringLogin: 'a full login',
    outage: 'the outage',
    async start() {
      const sentinel = await startRedisSentinel({ replicaLagMs: REPLICA_LAG_MS });
      return {
        stop: () => sentinel.kill(),
        topology: {
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
        },
      };
    },
  });
}
