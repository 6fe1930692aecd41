/**
 * Starts the built example app (`node example-app/build/server.js`) as its own process, configured only
 * by environment variables, as outside users and the multi-process tests do. Needs `npm run build`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SERVER_JS = join(ROOT, 'example-app', 'build', 'server.js');
const LIBRARY_JS = join(ROOT, 'dist', 'index.js');

/** A running example-app process. */
export interface AppProcess {
  /** `http://<host>:<port>` from its "listening on" line. */
  url: string;
  child: ChildProcess;
  /** Everything it printed (the last 20 000 characters). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; waits for the exit. */
  stop(): Promise<void>;
}

/** Fails with a clear message when the build the processes run is missing. */
export function requireBuild(): void {
  for (const file of [SERVER_JS, LIBRARY_JS]) {
    if (!existsSync(file)) {
      throw new Error(
        `${file} is missing: run "npm run build" before this test (it starts the built example app).`,
      );
    }
  }
}

/** Starts the built example app with `env` (plus PATH and NODE_ENV=test) and waits for its "listening on" line. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, [SERVER_JS], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Kills the app should this test process die without running afterAll.
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
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    watchdog.kill('SIGKILL');
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (match) return { url: match[1]!, child, output: () => output, stop };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`the example app did not start:\n${output}`);
}
