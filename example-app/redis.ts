/**
 * The example app's Redis: which topology the environment asks for (one server, Sentinel or Cluster),
 * with which client library (ioredis or node-redis), and the one function that builds that client with
 * fail-fast options tuned for failover. Sessions and tokens share the client.
 */

import { RedisStore as NodeRedisSessionStore } from 'connect-redis';
import { RedisStore as IoRedisSessionStore } from 'connect-redis-8';
import type { Store } from 'express-session';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { consoleLogger, type KakaoLogger } from 'kakao-login-express';
import { createClient, createCluster, createSentinel } from 'redis';

/** One server (REDIS_URL), a Sentinel-managed master (REDIS_SENTINELS) or a Cluster (REDIS_CLUSTER_NODES). */
export type RedisTopology = 'single' | 'sentinel' | 'cluster';

/** REDIS_CLIENT: `ioredis` (default) or `node-redis` (the `redis` package, version 5). */
export type RedisClientLibrary = 'ioredis' | 'node-redis';

/** A `host:port` from REDIS_SENTINELS or REDIS_CLUSTER_NODES. */
export interface HostPort {
  host: string;
  port: number;
}

/** The Redis the environment configures. */
export type RedisSettings = { client: RedisClientLibrary } & (
  | { topology: 'single'; url: string }
  | { topology: 'sentinel'; sentinels: HostPort[]; masterName: string }
  | { topology: 'cluster'; nodes: HostPort[] }
);

/** What `/healthz` reports: `ready` = commands are being served. */
export type RedisState = 'ready' | 'connecting' | 'reconnecting' | 'degraded' | 'closed';

/** The app's Redis connection, whatever the topology and library. */
export interface AppRedis {
  readonly topology: RedisTopology;
  readonly library: RedisClientLibrary;
  /** The client to give to `RedisTokenStore` (ioredis `Redis`/`Cluster`, or a node-redis client). */
  readonly client: unknown;
  /** The connection state from the client's own bookkeeping (no round trip). */
  state(): RedisState;
  /** Resolves true once the client is ready, false after `timeoutMs`. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  /**
   * One round trip to every master the app writes to; resolves with the state.
   * Never takes longer than `timeoutMs`; never rejects.
   */
  check(timeoutMs: number): Promise<RedisState>;
  /** An express-session store on this connection (connect-redis 8 for ioredis, 9 for node-redis). */
  sessionStore(options: { prefix: string; ttlSeconds: number }): Store;
  /** Closes the connection (QUIT, then a hard disconnect). */
  close(): Promise<void>;
}

/**
 * ioredis options that make a Redis outage fail fast (503 within about a second) instead of
 * queueing commands for tens of seconds, while reconnecting in the background.
 */
export const FAIL_FAST_REDIS_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 800,
  connectTimeout: 2000,
  enableReadyCheck: true,
  enableAutoPipelining: true,
  retryStrategy: (times: number) => Math.min(times * 200, 2000),
});

/**
 * Sentinel: the same, reconnecting every 100–500 ms. While no master is known every reconnect asks
 * the sentinels and finds the dead master again; the short cap finds the promoted one within half a
 * second of the promotion (with the 2 s cap it was up to 2 s later; see the README's figures).
 */
export const SENTINEL_REDIS_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  ...FAIL_FAST_REDIS_OPTIONS,
  retryStrategy: (times: number) => Math.min(times * 100, 500),
  sentinelRetryStrategy: (times: number) => Math.min(times * 100, 500),
});

/**
 * Cluster: ioredis' own node connections never reconnect (a lost master is replaced on the next slot
 * refresh), so the fail-fast part is the cluster-level `enableOfflineQueue: false` and the per-node
 * `commandTimeout`. A command that meets a closed connection is retried every
 * `retryDelayOnFailover` ms with a slot refresh in between, up to `maxRedirections` times: 16 × 100 ms
 * covers most of a failover without holding a request for more than about 1.6 s.
 */
export const CLUSTER_REDIS_OPTIONS: Readonly<ClusterOptions> = Object.freeze({
  enableOfflineQueue: false,
  enableReadyCheck: true,
  enableAutoPipelining: true,
  redisOptions: {
    maxRetriesPerRequest: 1,
    commandTimeout: FAIL_FAST_REDIS_OPTIONS.commandTimeout,
    connectTimeout: FAIL_FAST_REDIS_OPTIONS.connectTimeout,
  },
  retryDelayOnFailover: 100,
  retryDelayOnClusterDown: 100,
  retryDelayOnTryAgain: 100,
  maxRedirections: 16,
  slotsRefreshTimeout: 1000,
  slotsRefreshInterval: 5000,
  clusterRetryStrategy: (times: number) => Math.min(100 + times * 100, 1000),
});

/** node-redis: no offline queue, 800 ms per command, reconnect every 100–500 ms. */
const NODE_REDIS_CLIENT_OPTIONS = Object.freeze({
  disableOfflineQueue: true,
  commandOptions: { timeout: 800 },
  socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 + retries * 100, 500) },
});

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function parseHostPorts(name: string, value: string, problems: string[]): HostPort[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const parsed: HostPort[] = [];
  for (const entry of entries) {
    const match = HOST_PORT.exec(entry);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      problems.push(
        `${name} must be a comma-separated list of host:port (e.g. "redis-a:26379,redis-b:26379"; IPv6 as [::1]:26379); "${entry.slice(0, 100)}" is not one.`,
      );
      continue;
    }
    parsed.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (entries.length === 0) problems.push(`${name} is set but lists no host:port.`);
  return parsed;
}

/**
 * Reads REDIS_URL, REDIS_SENTINELS, REDIS_MASTER_NAME, REDIS_CLUSTER_NODES and REDIS_CLIENT. Pushes a
 * fix-it message onto `problems` for every setting the app cannot use (never silently falls back to
 * memory); returns undefined when no Redis is configured or something is wrong.
 */
export function parseRedisSettings(env: NodeJS.ProcessEnv, problems: string[]): RedisSettings | undefined {
  const url = env.REDIS_URL?.trim() || undefined;
  const sentinels = env.REDIS_SENTINELS?.trim() || undefined;
  const masterName = env.REDIS_MASTER_NAME?.trim() || undefined;
  const clusterNodes = env.REDIS_CLUSTER_NODES?.trim() || undefined;
  const clientName = env.REDIS_CLIENT?.trim() || undefined;
  const before = problems.length;

  const chosen = [
    url && 'REDIS_URL',
    sentinels && 'REDIS_SENTINELS',
    clusterNodes && 'REDIS_CLUSTER_NODES',
  ].filter(Boolean);
  if (chosen.length > 1) {
    problems.push(
      `${chosen.join(' and ')} are both set: set exactly one (REDIS_URL for one server, REDIS_SENTINELS for Sentinel, REDIS_CLUSTER_NODES for a Cluster).`,
    );
  }
  if (masterName !== undefined && !sentinels) {
    problems.push(
      'REDIS_MASTER_NAME is set without REDIS_SENTINELS: it names the master that the Sentinels monitor; set REDIS_SENTINELS=host:port,… too (or remove REDIS_MASTER_NAME).',
    );
  }
  if (masterName !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(masterName)) {
    problems.push(
      `REDIS_MASTER_NAME must be the name from "sentinel monitor <name> …" (letters, digits, ".", "_", "-"; got "${masterName.slice(0, 100)}").`,
    );
  }
  let client: RedisClientLibrary = 'ioredis';
  if (clientName !== undefined) {
    if (clientName === 'ioredis' || clientName === 'node-redis') client = clientName;
    else
      problems.push(
        `REDIS_CLIENT must be "ioredis" (the default) or "node-redis" (got "${clientName.slice(0, 50)}").`,
      );
    if (chosen.length === 0) {
      problems.push(
        'REDIS_CLIENT is set but no Redis is configured: set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (or remove REDIS_CLIENT).',
      );
    }
  }
  let settings: RedisSettings | undefined;
  if (url) {
    let ok = false;
    try {
      const parsed = new URL(url);
      ok = (parsed.protocol === 'redis:' || parsed.protocol === 'rediss:') && parsed.hostname !== '';
    } catch {
      ok = false;
    }
    // The URL may carry a password: never echo it.
    if (!ok)
      problems.push(
        'REDIS_URL must be a redis://host:port or rediss://host:port URL (the value given is not).',
      );
    settings = { client, topology: 'single', url };
  } else if (sentinels) {
    settings = {
      client,
      topology: 'sentinel',
      sentinels: parseHostPorts('REDIS_SENTINELS', sentinels, problems),
      masterName: masterName ?? 'mymaster',
    };
  } else if (clusterNodes) {
    settings = {
      client,
      topology: 'cluster',
      nodes: parseHostPorts('REDIS_CLUSTER_NODES', clusterNodes, problems),
    };
  }
  return problems.length > before ? undefined : settings;
}

/**
 * Builds the client for the configured topology and library, connecting in the background. Errors are
 * logged once per outage (class and message only) and surface as 503s and in `/healthz`; they are
 * never thrown unhandled.
 */
export function createRedis(settings: RedisSettings, logger: KakaoLogger = consoleLogger): AppRedis {
  return settings.client === 'node-redis'
    ? createNodeRedis(settings, logger)
    : createIoRedis(settings, logger);
}

/** Reports outages once: an `error` event while up logs, the next `ready` logs the recovery. */
function outageLogger(logger: KakaoLogger) {
  let down = false;
  return {
    error() {
      if (!down) logger({ level: 'error', event: 'redis_unavailable', reason: 'connection' });
      down = true;
    },
    ready() {
      if (down) logger({ level: 'info', event: 'redis_recovered' });
      down = false;
    },
  };
}

function createIoRedis(settings: RedisSettings, logger: KakaoLogger): AppRedis {
  const client =
    settings.topology === 'single'
      ? new Redis(settings.url, { ...FAIL_FAST_REDIS_OPTIONS })
      : settings.topology === 'sentinel'
        ? new Redis({ ...SENTINEL_REDIS_OPTIONS, sentinels: settings.sentinels, name: settings.masterName })
        : new Cluster(settings.nodes, { ...CLUSTER_REDIS_OPTIONS });
  const outages = outageLogger(logger);
  client.on('error', outages.error);
  client.on('ready', outages.ready);
  if (client instanceof Cluster) client.on('node error', outages.error);
  return fromIoRedis(client, settings.topology);
}

/**
 * Wraps an ioredis client the caller created (tests, apps with their own options) as an {@link AppRedis}.
 * The caller keeps handling its `error` events.
 */
export function fromIoRedis(client: Redis | Cluster, topology: RedisTopology = 'single'): AppRedis {
  let closed = false;
  let closing: Promise<void> | undefined;
  const state = (): RedisState => {
    const status = client.status;
    if (closed || status === 'end' || status === 'disconnecting') return 'closed';
    if (status === 'reconnecting' || status === 'close') return 'reconnecting';
    if (status !== 'ready') return 'connecting';
    if (client instanceof Cluster) return clusterCoverage(client) ? 'ready' : 'degraded';
    return 'ready';
  };
  return {
    topology,
    library: 'ioredis',
    client,
    state,
    waitUntilReady: (timeoutMs) =>
      whenReady(
        () => client.status === 'ready',
        (fn) => client.once('ready', fn),
        (fn) => client.off('ready', fn),
        timeoutMs,
      ),
    async check(timeoutMs) {
      const now = state();
      if (now !== 'ready') return now;
      // Pinging every master also opens the Cluster's lazy node connections.
      const targets = client instanceof Cluster ? client.nodes('master') : [client];
      const ok = await withTimeout(Promise.all(targets.map((node) => node.ping())), timeoutMs);
      return ok ? state() : client instanceof Cluster ? 'degraded' : 'reconnecting';
    },
    sessionStore: ({ prefix, ttlSeconds }) => new IoRedisSessionStore({ client, prefix, ttl: ttlSeconds }),
    close() {
      if (closing) return closing;
      closed = true;
      closing = (async () => {
        await client.quit().catch(() => {});
        client.disconnect();
      })();
      return closing;
    },
  };
}

/**
 * Whether every slot's master is one the client has a connection for (a lost master's connection ends
 * and leaves the pool; node connections open lazily, so an idle one is not a lost one).
 */
function clusterCoverage(cluster: Cluster): boolean {
  const ready = new Set(
    cluster
      .nodes('master')
      .filter((node) => node.status !== 'end' && node.status !== 'close' && node.status !== 'reconnecting')
      .map((node) => `${node.options.host}:${node.options.port}`),
  );
  const owners = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined) return false;
    owners.add(owner);
  }
  for (const owner of owners) if (!ready.has(owner)) return false;
  return true;
}

/** The node-redis clients the three factories return; only the members the app uses. */
interface NodeRedisLike {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
}

function createNodeRedis(settings: RedisSettings, logger: KakaoLogger): AppRedis {
  let client: NodeRedisLike;
  let ping: () => Promise<unknown>;
  if (settings.topology === 'single') {
    const single = createClient({ url: settings.url, ...NODE_REDIS_CLIENT_OPTIONS });
    client = single;
    ping = () => single.ping();
  } else if (settings.topology === 'sentinel') {
    const sentinel = createSentinel({
      name: settings.masterName,
      sentinelRootNodes: settings.sentinels,
      // A durable token write leases a master connection for its WAIT (RedisTokenStore, replicaWaitMs):
      // with the default single connection it waits for every other command in flight to finish, and
      // durable writes of concurrent requests queue for the connections that are left.
      masterPoolSize: 4,
      nodeClientOptions: NODE_REDIS_CLIENT_OPTIONS,
      sentinelClientOptions: { socket: NODE_REDIS_CLIENT_OPTIONS.socket },
      passthroughClientErrorEvents: true,
    });
    client = sentinel;
    ping = () => sentinel.ping();
  } else {
    const cluster = createCluster({
      rootNodes: settings.nodes.map(({ host, port }) => ({ socket: { host, port } })),
      defaults: NODE_REDIS_CLIENT_OPTIONS,
    });
    client = cluster;
    ping = () =>
      Promise.all(cluster.masters.map(async (master) => (await cluster.nodeClient(master)).ping()));
  }
  const outages = outageLogger(logger);
  client.on('error', outages.error);
  client.on('ready', outages.ready);
  let connected = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  // node-redis rejects connect() when the first attempt fails: retry in the background, as ioredis
  // does, so that an app started before its Redis recovers by itself.
  const connect = () => {
    if (closed || client.isOpen) return;
    client.connect().then(
      () => {
        connected = true;
      },
      () => setTimeout(connect, 500).unref(),
    );
  };
  connect();
  const isReady = () => connected && client.isOpen && (client.isReady ?? true);
  const state = (): RedisState =>
    closed ? 'closed' : isReady() ? 'ready' : connected ? 'reconnecting' : 'connecting';
  return {
    topology: settings.topology,
    library: 'node-redis',
    client,
    state,
    waitUntilReady: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (!isReady() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      return isReady();
    },
    async check(timeoutMs) {
      const now = state();
      if (now !== 'ready') return now;
      return (await withTimeout(ping(), timeoutMs)) ? state() : 'reconnecting';
    },
    sessionStore: ({ prefix, ttlSeconds }) => new NodeRedisSessionStore({ client, prefix, ttl: ttlSeconds }),
    close() {
      if (closing) return closing;
      closed = true;
      closing = (async () => {
        await withTimeout(client.close(), 2000);
        if (client.isOpen) client.destroy();
      })();
      return closing;
    },
  };
}

function whenReady(
  isReady: () => boolean,
  on: (fn: () => void) => void,
  off: (fn: () => void) => void,
  timeoutMs: number,
): Promise<boolean> {
  if (isReady()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off(done);
      resolve(isReady());
    };
    const timer = setTimeout(done, timeoutMs);
    on(done);
  });
}

/** True when `promise` fulfils within `ms`; false when it rejects or takes longer. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Error classes of ioredis and node-redis that mean "Redis cannot serve this right now". */
const OUTAGE_ERROR_NAMES = new Set([
  'MaxRetriesPerRequestError',
  'ClusterAllFailedError',
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'SocketClosedUnexpectedlyError',
  'SocketTimeoutError',
  'RootNodesUnavailableError',
  'TimeoutError',
]);

/**
 * Messages of client errors and server replies seen while Redis is down or failing over: closed or
 * refused connections, timeouts, no offline queue, a cluster without a master for a slot
 * (CLUSTERDOWN, TRYAGAIN, too many redirections), a demoted or loading node (READONLY, LOADING,
 * MASTERDOWN), unreachable sentinels.
 */
const OUTAGE_MESSAGE =
  /Connection is closed|Command timed out|enableOfflineQueue|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN|All sentinels are unreachable|The client is (closed|offline)|Socket closed unexpectedly|All the root nodes are unavailable|Connection timeout/;

/** Whether `err` is a Redis outage (to be answered 503 with Retry-After), from either client library. */
export function isRedisOutage(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && OUTAGE_ERROR_NAMES.has(name)) return true;
  return OUTAGE_MESSAGE.test(String((err as { message?: unknown } | null)?.message ?? ''));
}
