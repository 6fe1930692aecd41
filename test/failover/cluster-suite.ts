/**
 * Redis Cluster failover under load: three masters with one replica each (cluster-node-timeout
 * 1000 ms); two example-app processes with REDIS_CLUSTER_NODES; the master that holds the logged-in
 * users' token keys (their `{userId}` slot) is SIGKILLed while users log in, read their profile and
 * refresh rotating tokens. Sessions hash across all three masters, so a third of them lives on the
 * victim too. Needs `npm run build` first.
 */

import { keySlot, startRedisCluster } from '../helpers/redis-cluster';
import { failoverSuite } from './failover-suite';

/** The user whose slot picks the victim master; every user of the scenario shares that master. */
const FIRST_USER = '8200000001';

/** The suite for one client library (the example app's REDIS_CLIENT). */
export function clusterFailover(client: 'ioredis' | 'node-redis'): void {
  failoverSuite({
    title: `a Cluster failover under login load (two app processes, the users’ master SIGKILLed), ${client}`,
    recoveringLogin: 'a full login of a user on the failed master',
    outage: 'the lost master',
    async start() {
      const cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 1000 });
      const slot = keySlot(`{${FIRST_USER}}`);
      const victim = await cluster.masterOfSlot(slot);
      return {
        stop: () => cluster.kill(),
        topology: {
          name: 'cluster',
          env: { REDIS_CLIENT: client, REDIS_CLUSTER_NODES: cluster.nodeList },
          onVictim: async (userId) => (await cluster.masterOfSlot(keySlot(`{${userId}}`))) === victim,
          killMaster: () => cluster.killMasterOfSlot(slot),
          waitForPromotion: (port) => cluster.waitForPromotion(slot, port),
          keys: (pattern) => cluster.keys(pattern),
          del: (keys) => cluster.del(keys),
        },
      };
    },
  });
}
