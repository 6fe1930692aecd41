/**
 * Spawns a private Redis Cluster on free 127.0.0.1 ports for one test file: `redis-server
 * --cluster-enabled yes` nodes, each with its own cluster config file in a temporary directory, joined
 * with `redis-cli --cluster create … --cluster-replicas <n> --cluster-yes`. Three masters by default;
 * with `replicas: 1` each master gets a replica and the handle can kill a master and wait for its
 * replica to take over.
 *
 * ```ts
 * let cluster: RedisClusterHandle;
 * beforeAll(async () => { cluster = await startRedisCluster(); }, 30_000);
 * afterAll(async () => { await cluster?.kill(); });
 * ```
 *
 * Every node is started through {@link startRedisServer}, so its watchdog kills it should the test
 * process die without running `afterAll`.
 */

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFreePort, startRedisServer, type RedisServerHandle } from './redis-server';
import { info, respCommand, scanKeys, type RespReply } from './resp';

const run = promisify(execFile);

/** A running private Redis Cluster. */
export interface RedisClusterHandle {
  /** The masters' ports at creation, in creation order. */
  ports: number[];
  /** The replicas' ports at creation (empty without replicas). */
  replicaPorts: number[];
  /** `{ host: '127.0.0.1', port }` for each master: the startup nodes of `new Cluster(nodes)`. */
  nodes: { host: string; port: number }[];
  /** `127.0.0.1:<port>,…` of every node: the value for `REDIS_CLUSTER_NODES`. */
  nodeList: string;
  /** The port of the master that currently serves `slot`, as a live node reports it. */
  masterOfSlot(slot: number): Promise<number>;
  /**
   * SIGKILLs the master that currently serves `slot`. Resolves once the process is gone.
   * @throws Error when that node is not one of this cluster's.
   */
  killMasterOfSlot(slot: number): Promise<{ port: number; killedAt: number }>;
  /**
   * Waits until every live master reports `cluster_state:ok` and names a master other than `oldPort`
   * for `slot`.
   * @throws Error when that does not happen within `timeoutMs` (default 20000).
   */
  waitForPromotion(slot: number, oldPort: number, timeoutMs?: number): Promise<{ port: number }>;
  /** `INFO replication` of a node. */
  replication(port: number): Promise<Record<string, string>>;
  /** Keys matching `pattern` on every live master, with their remaining TTL in ms. */
  keys(pattern: string): Promise<{ key: string; pttl: number }[]>;
  /** Deletes keys, each on the master of its slot. */
  del(keys: string[]): Promise<void>;
  /** Final cleanup: kills every node and removes the temporary directory. Idempotent. */
  kill(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of masters, at least 3 (what `redis-cli --cluster create` requires). Default 3. */
  masters?: number;
  /** Replicas per master. Default 0. */
  replicas?: number;
  /** `cluster-node-timeout`, in ms: how long a node may be unreachable before it counts as failed. Default 5000. */
  nodeTimeoutMs?: number;
  /** How long to wait for `cluster_state:ok` on every node, in ms. Default 20000. */
  readyTimeoutMs?: number;
}

/**
 * Starts the nodes, creates the cluster and waits until every node reports `cluster_state:ok` with all
 * 16384 slots assigned and every node known, and every replica is in sync.
 *
 * @throws Error when a node cannot start, `redis-cli --cluster create` fails (its output is in the
 *   message) or the cluster does not become ready in time; the nodes started so far are killed first.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 5000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  if (!Number.isInteger(masters) || masters < 3) throw new TypeError('"masters" must be an integer ≥ 3');
  if (!Number.isInteger(replicas) || replicas < 0) throw new TypeError('"replicas" must be an integer ≥ 0');
  if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs < 100) {
    throw new TypeError('"nodeTimeoutMs" must be an integer ≥ 100');
  }
  const dir = await mkdtemp(join(tmpdir(), 'kle-redis-cluster-'));
  const servers = new Map<number, RedisServerHandle>();
  let killed = false;
  const kill = async () => {
    if (killed) return;
    killed = true;
    await Promise.allSettled([...servers.values()].map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  let masterPorts: number[];
  let replicaPorts: number[];
  try {
    const total = masters * (1 + replicas);
    for (let i = 0; i < total; i++) {
      const server = await startRedisServer({
        args: [
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${i}.conf`,
          // The bus port defaults to port + 10000, which may be taken or out of range: pick one.
          '--cluster-port',
          String(await findFreePort()),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          // A replica's first sync is diskless and starts at once (the default waits 5 s).
          '--repl-diskless-sync',
          'yes',
          '--repl-diskless-sync-delay',
          '0',
        ],
      });
      servers.set(server.port, server);
    }
    const ports = [...servers.keys()];
    try {
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((port) => `127.0.0.1:${port}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeout: readyTimeoutMs },
      );
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed:\n${`${stdout}\n${stderr}`.trim().slice(-2000)}`);
    }
    await waitUntilReady(ports, replicas, readyTimeoutMs);
    const roles = await Promise.all(
      ports.map(async (port) => [port, (await info(port, 'replication')).role]),
    );
    masterPorts = roles.filter(([, role]) => role === 'master').map(([port]) => Number(port));
    replicaPorts = roles.filter(([, role]) => role === 'slave').map(([port]) => Number(port));
  } catch (error) {
    await kill();
    throw error;
  }

  const live = () => [...servers.keys()];
  const masterOfSlot = async (slot: number): Promise<number> => {
    let last: unknown;
    for (const port of live()) {
      try {
        const owner = slotOwner(await respCommand(port, ['CLUSTER', 'SLOTS']), slot);
        if (owner !== undefined) return owner;
      } catch (error) {
        last = error;
      }
    }
    throw new Error(`no live node names the master of slot ${slot}: ${String(last)}`);
  };
  return {
    ports: masterPorts,
    replicaPorts,
    nodes: masterPorts.map((port) => ({ host: '127.0.0.1', port })),
    nodeList: [...masterPorts, ...replicaPorts].map((port) => `127.0.0.1:${port}`).join(','),
    masterOfSlot,
    async killMasterOfSlot(slot) {
      const port = await masterOfSlot(slot);
      const server = servers.get(port);
      if (!server) throw new Error(`the master ${port} of slot ${slot} is not one of this cluster's nodes`);
      servers.delete(port);
      const killing = server.kill();
      const killedAt = Date.now();
      await killing;
      return { port, killedAt };
    },
    async waitForPromotion(slot, oldPort, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        try {
          const owners = new Set<number | undefined>();
          let ok = true;
          for (const port of live()) {
            const [state, slots] = await Promise.all([
              respCommand(port, ['CLUSTER', 'INFO']),
              respCommand(port, ['CLUSTER', 'SLOTS']),
            ]);
            if (!/cluster_state:ok/.test(String(state))) ok = false;
            owners.add(slotOwner(slots, slot));
          }
          const [owner] = [...owners];
          if (ok && owners.size === 1 && owner !== undefined && owner !== oldPort && servers.has(owner)) {
            return { port: owner };
          }
          last = `cluster ok on all nodes: ${ok}; slot ${slot} served by ${[...owners].join(', ')}`;
        } catch (error) {
          last = String(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no replica took over slot ${slot} from ${oldPort} within ${timeoutMs} ms: ${last}`);
    },
    replication: (port) => info(port, 'replication'),
    async keys(pattern) {
      const found: { key: string; pttl: number }[] = [];
      for (const port of live()) {
        if ((await info(port, 'replication')).role === 'master')
          found.push(...(await scanKeys(port, pattern)));
      }
      return found;
    },
    async del(keys) {
      for (const key of keys) await respCommand(await masterOfSlot(keySlot(key)), ['DEL', key]);
    },
    kill,
  };
}

/** The master port serving `slot` in a CLUSTER SLOTS reply. */
function slotOwner(reply: RespReply, slot: number): number | undefined {
  if (!Array.isArray(reply)) return undefined;
  for (const range of reply) {
    if (!Array.isArray(range)) continue;
    const [start, end, master] = range;
    if (Number(start) <= slot && slot <= Number(end) && Array.isArray(master)) return Number(master[1]);
  }
  return undefined;
}

/**
 * The cluster slot of `key` (CRC16/XMODEM of the key or of its `{hash tag}`, modulo 16384), as Redis
 * computes it.
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

async function waitUntilReady(ports: number[], replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const infos = await Promise.all(ports.map((port) => clusterInfo(port)));
    const clusterReady = infos.every(
      (text) =>
        /cluster_state:ok/.test(text) &&
        /cluster_slots_ok:16384/.test(text) &&
        new RegExp(`cluster_known_nodes:${ports.length}\\b`).test(text),
    );
    if (clusterReady) {
      if (replicas === 0) return;
      const states = await Promise.all(ports.map((port) => info(port, 'replication').catch(() => ({}))));
      const synced = states.filter(
        (state: Record<string, string>) => state.role === 'slave' && state.master_link_status === 'up',
      );
      if (synced.length === ports.length - ports.length / (1 + replicas)) return;
      last = JSON.stringify(states);
    } else {
      last = infos.join('\n---\n');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the Redis Cluster did not become ready within ${timeoutMs} ms:\n${last.slice(0, 2000)}`);
}

async function clusterInfo(port: number): Promise<string> {
  try {
    return String(await respCommand(port, ['CLUSTER', 'INFO'], 2000));
  } catch {
    return '';
  }
}
