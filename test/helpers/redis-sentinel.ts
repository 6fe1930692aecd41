/**
 * Spawns a private Redis Sentinel set on free 127.0.0.1 ports for one test file: one master, one
 * replica and three `redis-server --sentinel` processes (quorum 2, down-after 1000 ms by default),
 * each sentinel with its own config file in a temporary directory.
 *
 * ```ts
 * let sentinel: RedisSentinelHandle;
 * beforeAll(async () => { sentinel = await startRedisSentinel(); }, 30_000);
 * afterAll(async () => { await sentinel?.kill(); });
 * ```
 *
 * Every process is started through {@link startRedisServer}, so its watchdog kills it should the test
 * process die without running `afterAll`.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLaggingLink, type LaggingLink } from './lagging-link';
import { startRedisServer, type RedisServerHandle } from './redis-server';
import { info, pairs, respCommand, scanKeys } from './resp';

/** A running Sentinel set. */
export interface RedisSentinelHandle {
  /** The monitored master's name (`REDIS_MASTER_NAME`). */
  masterName: string;
  /** The sentinels' addresses. */
  sentinels: { host: string; port: number }[];
  /** `127.0.0.1:<port>,…`: the value for `REDIS_SENTINELS`. */
  sentinelList: string;
  /** Ports of the data nodes: `[first master, replica]`. */
  dataPorts: number[];
  /** The master's port as the first answering sentinel names it. */
  masterPort(): Promise<number>;
  /**
   * SIGKILLs the current master (after severing its lagging replication link, if any, so that the
   * bytes in flight are lost as with a crashed host). Resolves once the process is gone.
   */
  killMaster(): Promise<KilledNode>;
  /**
   * Waits until every live sentinel names a master other than `oldPort` and that node reports
   * `role:master`.
   * @throws Error when that does not happen within `timeoutMs` (default 20000).
   */
  waitForPromotion(oldPort: number, timeoutMs?: number): Promise<{ port: number }>;
  /** `INFO replication` of a data node. */
  replication(port: number): Promise<Record<string, string>>;
  /** Keys matching `pattern` on the current master, with their remaining TTL in ms. */
  keys(pattern: string): Promise<{ key: string; pttl: number }[]>;
  /** Deletes keys on the current master. */
  del(keys: string[]): Promise<void>;
  /** Final cleanup: kills every process and removes the temporary directory. Idempotent. */
  kill(): Promise<void>;
}

/** What {@link RedisSentinelHandle.killMaster} killed. */
export interface KilledNode {
  port: number;
  /** `Date.now()` right after the SIGKILL was sent. */
  killedAt: number;
  /** Replication bytes the lagging link had not delivered yet (0 without a link). */
  lostReplicationBytes: number;
}

/** Options of {@link startRedisSentinel}. */
export interface StartRedisSentinelOptions {
  /** Default `mymaster`. */
  masterName?: string;
  /** `sentinel down-after-milliseconds`. Default 1000. */
  downAfterMs?: number;
  /** `sentinel failover-timeout`. Default 3000. */
  failoverTimeoutMs?: number;
  /**
   * When > 0 the replica replicates through a {@link LaggingLink} delivering the master's stream this
   * many ms late. Default 0 (direct).
   */
  replicaLagMs?: number;
  /** How long to wait for the set to be ready, in ms. Default 20000. */
  readyTimeoutMs?: number;
}

const DATA_ARGS = [
  // The replica's first sync is diskless and starts at once (the default waits 5 s for more replicas).
  '--repl-diskless-sync',
  'yes',
  '--repl-diskless-sync-delay',
  '0',
];

/**
 * Starts the master, the replica (waits for it to be in sync), then the sentinels, and waits until
 * every sentinel knows the replica and the two other sentinels, so that a failover can happen.
 *
 * @throws Error when a process cannot start or the set is not ready in time; everything started so
 *   far is killed first.
 */
export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<RedisSentinelHandle> {
  const masterName = options.masterName ?? 'mymaster';
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 3000;
  const replicaLagMs = options.replicaLagMs ?? 0;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const dir = await mkdtemp(join(tmpdir(), 'kle-redis-sentinel-'));
  const data = new Map<number, RedisServerHandle>();
  const sentinelServers: RedisServerHandle[] = [];
  let link: LaggingLink | undefined;
  let killed = false;
  const kill = async () => {
    if (killed) return;
    killed = true;
    await link?.close();
    await Promise.allSettled([...sentinelServers, ...data.values()].map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const master = await startRedisServer({ args: ['--dir', dir, ...DATA_ARGS] });
    data.set(master.port, master);
    if (replicaLagMs > 0) link = await startLaggingLink(master.port, replicaLagMs);
    const replica = await startRedisServer({
      args: ['--dir', dir, ...DATA_ARGS, '--replicaof', '127.0.0.1', String(link?.port ?? master.port)],
    });
    data.set(replica.port, replica);
    const deadline = Date.now() + readyTimeoutMs;
    await until(deadline, 'the replica to sync', async () => {
      const replication = await info(replica.port, 'replication');
      return replication.master_link_status === 'up' ? true : JSON.stringify(replication);
    });

    for (let i = 0; i < 3; i++) {
      const configFile = join(dir, `sentinel-${i}.conf`);
      await writeFile(
        configFile,
        [
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      sentinelServers.push(await startRedisServer({ configFile, args: ['--dir', dir, '--sentinel'] }));
    }
    await until(deadline, 'every sentinel to know the replica and the other sentinels', async () => {
      for (const sentinel of sentinelServers) {
        const state = pairs(await respCommand(sentinel.port, ['SENTINEL', 'MASTER', masterName]));
        if (state['num-slaves'] !== '1' || state['num-other-sentinels'] !== '2' || state.flags !== 'master') {
          return `sentinel ${sentinel.port}: ${JSON.stringify(state)}`;
        }
        const replicas = await respCommand(sentinel.port, ['SENTINEL', 'REPLICAS', masterName]);
        const first = pairs(Array.isArray(replicas) ? (replicas[0] ?? null) : null);
        if (first.flags !== 'slave' || first['master-link-status'] !== 'ok') {
          return `sentinel ${sentinel.port} sees the replica as ${JSON.stringify(first)}`;
        }
      }
      return true;
    });
  } catch (error) {
    await kill();
    throw error;
  }

  const sentinels = sentinelServers.map((server) => ({ host: '127.0.0.1', port: server.port }));
  const masterPort = async (): Promise<number> => {
    let lastError: unknown;
    for (const sentinel of sentinelServers) {
      try {
        const reply = await respCommand(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]);
        if (Array.isArray(reply) && reply.length === 2) return Number(reply[1]);
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no sentinel named the master: ${String(lastError)}`);
  };
  return {
    masterName,
    sentinels,
    sentinelList: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
    dataPorts: [...data.keys()],
    masterPort,
    async killMaster() {
      const port = await masterPort();
      const server = data.get(port);
      if (!server) throw new Error(`the master ${port} is not one of this set's data nodes`);
      // The link only ever carries the first master's stream.
      const lostReplicationBytes = link !== undefined && port === data.keys().next().value ? link.sever() : 0;
      const killing = server.kill();
      const killedAt = Date.now();
      await killing;
      return { port, killedAt, lostReplicationBytes };
    },
    async waitForPromotion(oldPort, timeoutMs = 20_000) {
      let promoted = 0;
      await until(Date.now() + timeoutMs, `a master other than ${oldPort}`, async () => {
        const named = new Set<number>();
        for (const sentinel of sentinelServers) {
          const reply = await respCommand(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]);
          named.add(Array.isArray(reply) ? Number(reply[1]) : 0);
        }
        const [port] = [...named];
        if (named.size !== 1 || port === undefined || port === oldPort) return `sentinels name ${[...named]}`;
        const role = (await info(port, 'replication')).role;
        if (role !== 'master') return `${port} is still ${role}`;
        promoted = port;
        return true;
      });
      return { port: promoted };
    },
    replication: (port) => info(port, 'replication'),
    keys: async (pattern) => scanKeys(await masterPort(), pattern),
    async del(keys) {
      if (keys.length > 0) await respCommand(await masterPort(), ['DEL', ...keys]);
    },
    kill,
  };
}

/** Polls `check` (true = done, a string = why not yet) every 50 ms until `deadline`. */
async function until(deadline: number, what: string, check: () => Promise<true | string>): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const result = await check();
      if (result === true) return;
      last = result;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}; last: ${last.slice(0, 2000)}`);
}
