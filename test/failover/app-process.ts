/**
 * The built example app as a child process (`node example-app/build/server.js`), started with an
 * environment the way an operator starts it. A watchdog kills it should the test process die
 * without running `afterAll`.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const SERVER_JS = join(ROOT, 'example-app', 'build', 'server.js');
const LIBRARY_JS = join(ROOT, 'dist', 'index.js');

/** A running `node example-app/build/server.js`. */
export interface AppProcess {
  /** `http://127.0.0.1:<port>` from its "listening on" line. */
  url: string;
  pid: number;
  child: ChildProcess;
  /** Its stdout and stderr so far (last 50 000 characters). */
  output(): string;
  /** Whether it exited (for any reason) since it started. */
  exited(): boolean;
  /** SIGTERM, SIGKILL after 5 s. Idempotent. */
  stop(): Promise<void>;
}

/** Throws a helpful error when `npm run build` has not been run. */
export function requireBuild(): void {
  for (const file of [SERVER_JS, LIBRARY_JS]) {
    if (!existsSync(file)) {
      throw new Error(
        `${file} is missing: run "npm run build" before this test (it starts the built example app).`,
      );
    }
  }
}

/** Runs the built app with `env` until it exits; resolves with its exit code and output (for start-up errors). */
export function runAppToExit(
  env: Record<string, string>,
  timeoutMs = 10_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_JS], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Starts the built example app with `env` and waits for its "listening on" line. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, [SERVER_JS], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-50_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let hasExited = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      hasExited = true;
      resolve();
    }),
  );
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null',
      'app-watchdog',
      String(process.pid),
      String(child.pid ?? 0),
    ],
    { stdio: 'ignore', detached: true },
  );
  watchdog.unref();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!hasExited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      watchdog.kill('SIGKILL');
    })());
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (match) {
      return {
        url: match[1]!,
        pid: child.pid ?? 0,
        child,
        output: () => output,
        exited: () => hasExited,
        stop,
      };
    }
    if (hasExited) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`the example app did not start:\n${output}`);
}
