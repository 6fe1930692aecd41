/**
 * The four Redis clients RedisTokenStore speaks (ioredis `Redis` and `Cluster`, node-redis `createClient`
 * and `createCluster`), configured as an application should (fail fast, reconnect in the background),
 * plus MONITOR-based command counting on every node of a test's own Redis.
 */
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import type { RedisClientLike } from '../../lib/stores/redis-client';

export type ClientKind = 'ioredis' | 'ioredis-cluster' | 'node-redis' | 'node-redis-cluster';

export const CLIENT_KINDS: readonly ClientKind[] = [
  'ioredis',
  'ioredis-cluster',
  'node-redis',
  'node-redis-cluster',
];

/** Where a client connects: one server (`url`) or a cluster (`nodes`). */
export type RedisTarget = { url: string } | { nodes: { host: string; port: number }[] };

export interface ConnectedClient {
  kind: ClientKind;
  client: RedisClientLike;
  /** Client errors it reported (outage tests assert through the store, not these). */
  errors: unknown[];
  close(): Promise<void>;
}

/** Connects a client of `kind` and waits until it is ready. */
export async function connectClient(kind: ClientKind, target: RedisTarget): Promise<ConnectedClient> {
  const errors: unknown[] = [];
  const onError = (err: unknown) => errors.push(err);
  const nodes = 'nodes' in target ? target.nodes : undefined;
  const url = 'url' in target ? target.url : `redis://${nodes![0]!.host}:${nodes![0]!.port}`;
  switch (kind) {
    case 'ioredis': {
      const client = new Redis(url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 1000,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(times * 100, 1000),
        lazyConnect: true,
      });
      client.on('error', onError);
      await client.connect();
      return { kind, client, errors, close: () => quitIoredis(client) };
    }
    case 'ioredis-cluster': {
      if (!nodes) throw new Error('ioredis-cluster needs cluster nodes');
      const client = new Cluster(nodes, {
        enableOfflineQueue: false,
        clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
        redisOptions: { maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 2000 },
        lazyConnect: true,
      });
      client.on('error', onError);
      await client.connect();
      return { kind, client, errors, close: () => quitIoredis(client) };
    }
    case 'node-redis': {
      const client = createClient({
        url,
        disableOfflineQueue: true,
        socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(retries * 100, 1000) },
      });
      client.on('error', onError);
      await client.connect();
      return {
        kind,
        client: client as unknown as RedisClientLike,
        errors,
        close: async () => {
          try {
            client.destroy();
          } catch {
            // already closed
          }
        },
      };
    }
    case 'node-redis-cluster': {
      if (!nodes) throw new Error('node-redis-cluster needs cluster nodes');
      const client = createCluster({
        rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
        defaults: {
          disableOfflineQueue: true,
          socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(retries * 100, 1000) },
        },
      });
      client.on('error', onError);
      await client.connect();
      return {
        kind,
        client: client as unknown as RedisClientLike,
        errors,
        close: async () => {
          try {
            client.destroy();
          } catch {
            // already closed
          }
        },
      };
    }
  }
}

/** QUIT when the server answers (no socket left behind), else a hard disconnect. */
async function quitIoredis(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') {
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((r) => setTimeout(r, 500).unref()),
    ]);
  }
  client.disconnect();
}

/** One command as MONITOR saw it. */
export interface MonitoredCommand {
  port: number;
  /** `lua` for commands run by a script, else the client's address. */
  source: string;
  args: string[];
}

/**
 * Watches every node with MONITOR. `settle()` waits until each monitor has seen everything sent before it
 * (an ECHO marker per node), so counts are exact without sleeping.
 */
export async function monitorNodes(ports: readonly number[]): Promise<{
  commands: MonitoredCommand[];
  settle(): Promise<void>;
  clear(): void;
  stop(): Promise<void>;
}> {
  const commands: MonitoredCommand[] = [];
  const sessions = await Promise.all(
    ports.map(async (port) => {
      const control = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
      control.on('error', () => undefined);
      await control.connect();
      const monitor = await control.duplicate().monitor();
      monitor.on('error', () => undefined);
      const waiters = new Map<string, () => void>();
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (args[0]?.toLowerCase() === 'echo' && waiters.has(args[1] ?? '')) {
          waiters.get(args[1]!)!();
          return;
        }
        commands.push({ port, source, args });
      });
      return { port, control, monitor, waiters };
    }),
  );
  let sequence = 0;
  return {
    commands,
    async settle() {
      await Promise.all(
        sessions.map(async (s) => {
          const marker = `settle-${process.pid}-${++sequence}`;
          const seen = new Promise<void>((resolve) => s.waiters.set(marker, resolve));
          await s.control.echo(marker);
          await seen;
          s.waiters.delete(marker);
        }),
      );
    },
    clear() {
      commands.length = 0;
    },
    async stop() {
      await Promise.all(sessions.flatMap((s) => [quitIoredis(s.monitor), quitIoredis(s.control)]));
    },
  };
}

/** A plain ioredis connection to inspect a single server, or a Cluster client for a cluster. */
export { quitIoredis };

export async function inspector(target: RedisTarget): Promise<Redis | Cluster> {
  const client =
    'url' in target
      ? new Redis(target.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
      : new Cluster(target.nodes, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
