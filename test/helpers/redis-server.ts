/**
 * Spawns a private `redis-server` on a free 127.0.0.1 port for one test file, so that tests can stop,
 * restart and inspect it without touching anyone else's Redis.
 *
 * Always kill it in `afterAll`, which jest runs even when tests fail:
 *
 * ```ts
 * let redis: RedisServerHandle;
 * beforeAll(async () => { redis = await startRedisServer(); });
 * afterAll(async () => { await redis?.kill(); });
 * ```
 *
 * Should the test process die without running `afterAll` (killed worker, crash), a small watchdog
 * shell kills the server within a second, so no `redis-server` outlives the run.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';

/** A running (or stopped) private redis-server. */
export interface RedisServerHandle {
  /** The port, kept across stop() and start(). */
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Stops the server gracefully (SIGTERM) and waits for it to exit; the port is kept for start(). */
  stop(): Promise<void>;
  /** Starts the server again on the same port after stop() and waits until it answers PING. */
  start(): Promise<void>;
  /** Final cleanup: SIGKILL and wait for exit. Idempotent; call it in afterAll. */
  kill(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** Extra redis-server arguments, appended after the defaults (so they can override them). Default none. */
  args?: string[];
  /**
   * A configuration file, passed as redis-server's first argument (Sentinel needs a writable one: it
   * records what it learns there). Default none.
   */
  configFile?: string;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;

class PortInUseError extends Error {}

/**
 * Starts `redis-server` on a free port with persistence disabled and waits until it answers PING.
 * Retries with another port when the chosen one was taken in the meantime.
 *
 * @throws Error when redis-server cannot be started (its last output lines are in the message).
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServerHandle> {
  const extraArgs = [
    ...(options.configFile === undefined ? [] : [options.configFile]),
    ...(options.args ?? []),
  ];
  const leading = options.configFile === undefined ? 0 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    try {
      const instance = await launch(port, extraArgs, leading);
      return makeHandle(port, extraArgs, leading, instance);
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** A key prefix unique to this run and test file, e.g. `test:token-store:9f2c1a7b3e4d:`. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomBytes(6).toString('hex')}:`;
}

interface Instance {
  child: ChildProcess;
  watchdog: ChildProcess;
  exited: Promise<void>;
}

function makeHandle(port: number, extraArgs: string[], leading: number, first: Instance): RedisServerHandle {
  let instance: Instance | undefined = first;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      const current = instance;
      instance = undefined;
      if (current === undefined) return;
      current.child.kill('SIGTERM');
      const stopped = await Promise.race([
        current.exited.then(() => true),
        delay(STOP_TIMEOUT_MS).then(() => false),
      ]);
      if (!stopped) {
        current.child.kill('SIGKILL');
        await current.exited;
      }
      current.watchdog.kill('SIGKILL');
    },
    async start() {
      if (instance !== undefined) throw new Error(`redis-server on port ${port} is already running`);
      instance = await launch(port, extraArgs, leading);
    },
    async kill() {
      const current = instance;
      instance = undefined;
      if (current === undefined) return;
      current.child.kill('SIGKILL');
      current.watchdog.kill('SIGKILL');
      await current.exited;
    },
  };
}

/** `leading`: how many of `extraArgs` go before the defaults (the config file). */
async function launch(port: number, extraArgs: string[], leading: number): Promise<Instance> {
  const args = [
    ...extraArgs.slice(0, leading),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    tmpdir(),
    ...extraArgs.slice(leading),
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let hasExited = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true;
      resolve();
    });
    child.once('error', (error) => {
      output += `\n${error.message}`;
      hasExited = true;
      resolve();
    });
  });
  // Kills the server when this test process disappears without running afterAll.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null',
      'redis-watchdog',
      String(process.pid),
      String(child.pid ?? 0),
    ],
    { stdio: 'ignore', detached: true },
  );
  watchdog.unref();

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!hasExited && Date.now() < deadline) {
    if (await answersPing(port)) return { child, watchdog, exited };
    await delay(50);
  }
  child.kill('SIGKILL');
  watchdog.kill('SIGKILL');
  await exited;
  if (/Address already in use/i.test(output)) throw new PortInUseError(`port ${port} is in use`);
  throw new Error(
    `redis-server did not become ready on port ${port} within ${READY_TIMEOUT_MS} ms. Output:\n${output.trim()}`,
  );
}

/** A TCP port on 127.0.0.1 that was free a moment ago (callers retry on EADDRINUSE). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A raw RESP PING, so readiness checks do not leave an ioredis client reconnecting in the background. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
