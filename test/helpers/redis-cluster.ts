/**
 * Spawns a private three-master Redis Cluster on free 127.0.0.1 ports for one test file:
 * three `redis-server --cluster-enabled yes` nodes, each with its own cluster config file in a
 * temporary directory, joined with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`.
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

const run = promisify(execFile);

/** A running private Redis Cluster. */
export interface RedisClusterHandle {
  /** The masters' ports, in creation order. */
  ports: number[];
  /** `{ host: '127.0.0.1', port }` for each master: the startup nodes of `new Cluster(nodes)`. */
  nodes: { host: string; port: number }[];
  /** Final cleanup: kills every node and removes the temporary directory. Idempotent. */
  kill(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of masters, at least 3 (what `redis-cli --cluster create` requires). Default 3. */
  masters?: number;
  /** How long to wait for `cluster_state:ok` on every node, in ms. Default 20000. */
  readyTimeoutMs?: number;
}

/**
 * Starts the nodes, creates the cluster and waits until every node reports `cluster_state:ok` with all
 * 16384 slots assigned and every master known.
 *
 * @throws Error when a node cannot start, `redis-cli --cluster create` fails (its output is in the
 *   message) or the cluster does not become ready in time; the nodes started so far are killed first.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  if (!Number.isInteger(masters) || masters < 3) throw new TypeError('"masters" must be an integer ≥ 3');
  const dir = await mkdtemp(join(tmpdir(), 'kle-redis-cluster-'));
  const servers: RedisServerHandle[] = [];
  let killed = false;
  const kill = async () => {
    if (killed) return;
    killed = true;
    await Promise.allSettled(servers.map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedisServer({
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
            '5000',
          ],
        }),
      );
    }
    const ports = servers.map((server) => server.port);
    try {
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((port) => `127.0.0.1:${port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: readyTimeoutMs },
      );
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed:\n${`${stdout}\n${stderr}`.trim().slice(-2000)}`);
    }
    await waitUntilReady(ports, readyTimeoutMs);
    return { ports, nodes: ports.map((port) => ({ host: '127.0.0.1', port })), kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

async function waitUntilReady(ports: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const infos = await Promise.all(ports.map((port) => clusterInfo(port)));
    const ready = infos.every(
      (info) =>
        /cluster_state:ok/.test(info) &&
        /cluster_slots_ok:16384/.test(info) &&
        new RegExp(`cluster_known_nodes:${ports.length}\\b`).test(info),
    );
    if (ready) return;
    last = infos.join('\n---\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the Redis Cluster did not become ready within ${timeoutMs} ms:\n${last.slice(0, 2000)}`);
}

async function clusterInfo(port: number): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'CLUSTER', 'INFO'], {
      timeout: 2000,
    });
    return stdout;
  } catch {
    return '';
  }
}
