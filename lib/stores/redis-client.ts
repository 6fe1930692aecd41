/**
 * One small adapter over the Redis clients users run: ioredis 5/6 (`Redis`, `Cluster`) and node-redis 5
 * (`createClient`, `createCluster`, `createSentinel`). The stores speak only through it: raw commands
 * routed by key, Lua scripts by SHA with a fallback to the source, and writes that wait for a replica.
 *
 * The client types are structural, so a user of one client library never needs the other installed.
 * The caller owns the client: the adapter neither connects, quits nor changes it.
 */
import { createHash } from 'node:crypto';
import { configError } from '../config';
import { redact } from '../errors';

type Arg = string | number;

/** An ioredis `Redis` or `Cluster` (5 or 6), as far as this library uses it. */
export interface IoredisLikeClient {
  call(command: string, ...args: Arg[]): Promise<unknown>;
  pipeline(): IoredisLikePipeline;
  readonly status: string;
  readonly isCluster?: boolean;
  /** ioredis Cluster only: each slot's nodes, master first, then its replicas. */
  readonly slots?: ReadonlyArray<readonly string[] | undefined>;
}

/** The part of an ioredis pipeline this library uses. */
export interface IoredisLikePipeline {
  call(command: string, ...args: Arg[]): IoredisLikePipeline;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/** A node-redis 5 client from `createClient()`. */
export interface NodeRedisLikeClient {
  sendCommand(args: string[]): Promise<unknown>;
  readonly isReady: boolean;
}

/** A node-redis 5 cluster from `createCluster()`. */
export interface NodeRedisLikeCluster {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  readonly masters: readonly unknown[];
  /** Each slot's shard: its master and the replicas it has now. */
  readonly slots?: ReadonlyArray<{ readonly replicas?: readonly unknown[] } | undefined>;
  readonly isOpen: boolean;
}

/** One reserved master connection of a node-redis sentinel client (`sentinel.use(fn)`). */
export interface NodeRedisLikeSentinelClient {
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
}

/** A node-redis 5 sentinel client from `createSentinel()`. */
export interface NodeRedisLikeSentinel {
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  use<T>(fn: (client: NodeRedisLikeSentinelClient) => Promise<T>): Promise<T>;
  getMasterNode(): unknown;
  readonly isReady: boolean;
}

/** Any Redis client this library accepts. */
export type RedisClientLike =
  IoredisLikeClient | NodeRedisLikeClient | NodeRedisLikeCluster | NodeRedisLikeSentinel;

/** Which client library and topology a {@link RedisConnection} wraps. */
export type RedisClientKind =
  'ioredis' | 'ioredis-cluster' | 'node-redis' | 'node-redis-cluster' | 'node-redis-sentinel';

/** A Lua script, sent by SHA1 once Redis knows it. */
export class RedisScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/** What a store needs from Redis. */
export interface RedisConnection {
  readonly kind: RedisClientKind;
  /** Connected right now, from the client's own state (no round trip). */
  isReady(): boolean;
  /**
   * How many replicas the master of `key`'s slot has, as a cluster client knows from its own topology
   * (no round trip); undefined for single-node and Sentinel clients, which must ask Redis
   * (`INFO replication`).
   */
  knownReplicas(key: string): number | undefined;
  /** One command; `key` routes it in a cluster (the node owning that key's slot). */
  command(args: readonly Arg[], key?: string): Promise<unknown>;
  /** Runs a script (EVALSHA, falling back to EVAL once when Redis does not know it). */
  script(script: RedisScript, keys: readonly string[], args: readonly Arg[]): Promise<unknown>;
  /**
   * Runs a script, then `WAIT <replicas> <timeoutMs>` on the same connection, so the write is on a
   * replica before this resolves (or the timeout passed). Returns the script's reply and how many
   * replicas acknowledged.
   */
  scriptThenWait(
    script: RedisScript,
    keys: readonly string[],
    args: readonly Arg[],
    replicas: number,
    timeoutMs: number,
  ): Promise<{ reply: unknown; acknowledged: number }>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Which kind of client `client` is, or undefined when it is none this library speaks. */
export function redisClientKind(client: unknown): RedisClientKind | undefined {
  if (!isObject(client) && typeof client !== 'function') return undefined;
  const c = client as Record<string, unknown>;
  if (typeof c.call === 'function' && typeof c.pipeline === 'function' && typeof c.status === 'string') {
    return c.isCluster === true ? 'ioredis-cluster' : 'ioredis';
  }
  if (typeof c.sendCommand !== 'function') return undefined;
  if ('masters' in c) return 'node-redis-cluster';
  if (typeof c.getMasterNode === 'function' && typeof c.use === 'function') return 'node-redis-sentinel';
  if ('isReady' in c) return 'node-redis';
  return undefined;
}

const CLIENT_HINT =
  'an ioredis client (new Redis(url) or new Cluster(nodes)) or a node-redis 5 client (createClient(), createCluster() or createSentinel())';

/**
 * Wraps a caller's client.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when `client` is not a Redis client this library speaks.
 */
export function connectRedis(client: unknown, what: string): RedisConnection {
  return observed(client as object, plainConnection(client, what));
}

function plainConnection(client: unknown, what: string): RedisConnection {
  const kind = redisClientKind(client);
  switch (kind) {
    case 'ioredis':
    case 'ioredis-cluster':
      return ioredisConnection(client as IoredisLikeClient, kind);
    case 'node-redis':
      return nodeRedisConnection(kind, client as NodeRedisLikeClient, (args) =>
        (client as NodeRedisLikeClient).sendCommand(args),
      );
    case 'node-redis-cluster': {
      const cluster = client as NodeRedisLikeCluster;
      return nodeRedisConnection(kind, cluster, (args, key) => cluster.sendCommand(key, false, args));
    }
    case 'node-redis-sentinel': {
      const sentinel = client as NodeRedisLikeSentinel;
      return nodeRedisConnection(kind, sentinel, (args) => sentinel.sendCommand(false, args));
    }
    default:
      throw configError(`${what}: "client" must be ${CLIENT_HINT}.`);
  }
}

const REPLY_ERRORS = new Set(['ReplyError', 'ErrorReply', 'SimpleError', 'BlobError']);

interface Health {
  failedAt: number;
  succeededAt: number;
  /** Whether the client said it was connected when the last failure happened. */
  failedWhileReady: boolean;
}

/**
 * After a failure, for how long Redis counts as down (unless a command succeeds first): the next
 * commands fail at once rather than being sent, and the client is not ready.
 */
const DOWN_AFTER_FAILURE_MS = 500;

/**
 * Health records per client, shared by every store and guard that uses it: one for a single Redis or
 * Sentinel, one per hash slot of a cluster (a shard failing over must not stop the others).
 */
const healthOf = new WeakMap<object, Map<number, Health>>();

/** CRC16/XMODEM, the hash of Redis Cluster's key slots. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of a key (its `{hash tag}` when it has one). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return crc16(close > open + 1 ? key.slice(open + 1, close) : key) % 16384;
}

/**
 * A failure that says Redis cannot serve now: unreachable, silent (a timeout), a closed connection, or a
 * node in the middle of a failover (demoted, loading, no master for the slot). A refused command (a
 * script error, a wrong type) is not one.
 */
function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (REPLY_ERRORS.has(err.name) || REPLY_ERRORS.has(err.constructor?.name ?? '')) {
    return /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/.test(err.message);
  }
  return true;
}

/**
 * Adds what the client itself cannot know to its readiness: a client says "ready" while Redis is stopped
 * or unreachable behind a half-open connection, until a command times out. A command that failed that
 * way (any request's) marks the client down for half a second, or until a command succeeds again.
 */
function observed(client: object, connection: RedisConnection): RedisConnection {
  let records = healthOf.get(client);
  if (!records) {
    records = new Map();
    healthOf.set(client, records);
  }
  const all = records;
  const cluster = connection.kind.endsWith('cluster');
  const healthFor = (key: string | undefined): Health => {
    const slot = cluster && key !== undefined ? keySlot(key) : -1;
    let health = all.get(slot);
    if (!health) {
      health = { failedAt: 0, succeededAt: 0, failedWhileReady: false };
      all.set(slot, health);
    }
    return health;
  };
  // A failure while the client was disconnected is over once it has reconnected.
  const isDown = (h: Health, now: number) =>
    h.failedAt > h.succeededAt &&
    now - h.failedAt < DOWN_AFTER_FAILURE_MS &&
    (h.failedWhileReady || !connection.isReady());
  const observe = <T>(key: string | undefined, send: () => Promise<T>): Promise<T> => {
    const state = healthFor(key);
    // While Redis (a cluster: the key's slot) is known to be down, commands fail at once instead of each
    // waiting out the client's own retries (a request with several commands would otherwise hang for
    // their sum); half a second after the last failure commands go through again, and a success ends
    // the outage.
    if (isDown(state, Date.now())) return Promise.reject(new RedisUnavailableError());
    return withDeadline(send()).then(
      (value) => {
        state.succeededAt = Date.now();
        return value;
      },
      (err: unknown) => {
        if (isConnectionFailure(err)) {
          state.failedAt = Date.now();
          state.failedWhileReady = connection.isReady();
        }
        throw err;
      },
    );
  };
  return {
    kind: connection.kind,
    knownReplicas: (key) => connection.knownReplicas(key),
    isReady() {
      const now = Date.now();
      for (const health of all.values()) if (isDown(health, now)) return false;
      return connection.isReady();
    },
    command: (args, key) => observe(key, () => connection.command(args, key)),
    script: (script, keys, args) => observe(keys[0], () => connection.script(script, keys, args)),
    scriptThenWait: (script, keys, args, replicas, timeoutMs) =>
      observe(keys[0], () => connection.scriptThenWait(script, keys, args, replicas, timeoutMs)),
  };
}

/**
 * The longest a command may take before it counts as failed. Client timeouts do not cover everything: an
 * ioredis Cluster holds a command for its slot while it waits for the new master, for seconds.
 */
export const COMMAND_DEADLINE_MS = 1000;

/**
 * Calls `onTimeout` once `ms` have passed, unless the returned function cancels it first. The call waits
 * one more turn of the event loop: on a busy process the answer may be read in the same turn as the timer
 * fires, and then the answer counts.
 */
export function afterDeadline(ms: number, onTimeout: () => void): () => void {
  let cancelled = false;
  const timer = setTimeout(() => setImmediate(() => cancelled || onTimeout()), ms);
  timer.unref();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}

/** `promise`, or a {@link RedisUnavailableError} once {@link COMMAND_DEADLINE_MS} passed. */
export function withDeadline<T>(promise: Promise<T>, ms = COMMAND_DEADLINE_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = afterDeadline(ms, () => reject(new RedisUnavailableError('Redis did not answer in time')));
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (err: unknown) => {
        cancel();
        reject(err);
      },
    );
  });
}

/** A command not sent because Redis failed moments ago (see {@link observed}), or not answered in time. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
  constructor(message = 'Redis is unavailable: a command failed moments ago') {
    super(message);
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

function evalArgs(script: RedisScript, keys: readonly string[], args: readonly Arg[], bySha: boolean): Arg[] {
  return [bySha ? 'EVALSHA' : 'EVAL', bySha ? script.sha : script.source, keys.length, ...keys, ...args];
}

function ioredisConnection(client: IoredisLikeClient, kind: RedisClientKind): RedisConnection {
  const command = (args: readonly Arg[]) => client.call(String(args[0]), ...args.slice(1));
  return {
    kind,
    isReady: () => client.status === 'ready',
    knownReplicas: (key) =>
      kind === 'ioredis-cluster' ? Math.max(0, (client.slots?.[keySlot(key)]?.length ?? 1) - 1) : undefined,
    command,
    async script(script, keys, args) {
      try {
        return await command(evalArgs(script, keys, args, true));
      } catch (err) {
        if (!isNoScript(err)) throw err;
        return command(evalArgs(script, keys, args, false));
      }
    },
    async scriptThenWait(script, keys, args, replicas, timeoutMs) {
      // A pipeline runs on one connection; in a Cluster ioredis sends it to the node of its keys, so
      // WAIT (which has no key) follows the write to the right master.
      const [, ...rest] = evalArgs(script, keys, args, false);
      const results = await client
        .pipeline()
        .call('EVAL', ...rest)
        .call('WAIT', replicas, timeoutMs)
        .exec();
      const [write, wait] = results ?? [];
      if (!write) throw new Error('Redis pipeline returned no result');
      if (write[0]) throw write[0];
      return { reply: write[1], acknowledged: wait && !wait[0] ? Number(wait[1]) : 0 };
    },
  };
}

function nodeRedisConnection(
  kind: RedisClientKind,
  client: { readonly isReady?: boolean; readonly isOpen?: boolean },
  send: (args: string[], key: string | undefined) => Promise<unknown>,
): RedisConnection {
  const command = (args: readonly Arg[], key?: string) => send(args.map(String), key);
  const script = async (s: RedisScript, keys: readonly string[], args: readonly Arg[]) => {
    try {
      return await command(evalArgs(s, keys, args, true), keys[0]);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return command(evalArgs(s, keys, args, false), keys[0]);
    }
  };
  return {
    kind,
    // node-redis clusters expose isOpen only; a cluster re-discovers its masters by itself.
    isReady: () => (kind === 'node-redis-cluster' ? client.isOpen === true : client.isReady === true),
    knownReplicas: (key) =>
      kind === 'node-redis-cluster'
        ? ((client as NodeRedisLikeCluster).slots?.[keySlot(key)]?.replicas?.length ?? 0)
        : undefined,
    command,
    script,
    async scriptThenWait(s, keys, args, replicas, timeoutMs) {
      const wait = ['WAIT', String(replicas), String(timeoutMs)];
      if (kind === 'node-redis-sentinel') {
        // A sentinel client may pool master connections: keep the write and WAIT on one of them.
        return (client as unknown as NodeRedisLikeSentinel).use(async (master) => {
          const reply = await master.sendCommand(false, evalArgs(s, keys, args, false).map(String));
          return { reply, acknowledged: Number(await master.sendCommand(false, wait)) };
        });
      }
      // A node-redis client (and each node of a cluster) writes through one socket, so WAIT on the
      // key's node covers the write made just before.
      const reply = await script(s, keys, args);
      return { reply, acknowledged: Number(await command(wait, keys[0])) };
    },
  };
}

/**
 * The class and message of a Redis client error, for logs: keys, values and command arguments are
 * never included (ioredis attaches the failed command's arguments to its errors).
 */
export function describeRedisError(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const name = err.constructor?.name && err.constructor.name !== 'Object' ? err.constructor.name : err.name;
  return `${name}: ${redact(err.message.split('\n')[0] ?? '')}`.slice(0, 240);
}

/** Strips the command arguments ioredis attaches to errors, so a cause never carries a sealed record. */
export function scrubRedisError(err: unknown): unknown {
  if (isObject(err) && 'command' in err) {
    const command = (err as { command?: { name?: unknown } }).command;
    (err as { command?: unknown }).command = { name: command?.name };
  }
  if (isObject(err) && 'args' in err) delete (err as { args?: unknown }).args;
  return err;
}
