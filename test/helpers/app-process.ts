/**
 * The built example app (`example-app/build/server.js`) as a child process, and a minimal browser with a
 * cookie jar, for tests that need several app processes (rolling deploys, key rotation).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const SERVER_JS = join(ROOT, 'example-app', 'build', 'server.js');
export const LIBRARY_JS = join(ROOT, 'dist', 'index.js');

/** Throws a helpful error when the build the child processes run is missing. */
export function requireBuild(): void {
  for (const file of [SERVER_JS, LIBRARY_JS]) {
    if (!existsSync(file)) {
      throw new Error(
        `${file} is missing: run "npm run build" before this test (it starts the built example app).`,
      );
    }
  }
}

/** A running `node example-app/build/server.js`. */
export interface AppProcess {
  name: string;
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function spawnApp(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
} {
  const child = spawn(process.execPath, [SERVER_JS], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
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
  return { child, output: () => output, exited, stop };
}

/** Starts the built example app with `env` and waits for its "listening on" line. */
export async function startAppProcess(name: string, env: Record<string, string>): Promise<AppProcess> {
  const app = spawnApp(env);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(app.output());
    if (match) return { name, url: match[1]!, child: app.child, output: app.output, stop: app.stop };
    if (app.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await app.stop();
  throw new Error(`the example app ${name} did not start:\n${app.output()}`);
}

/** Runs the built example app expecting it to refuse to start; resolves with its exit code and output. */
export async function expectStartRefused(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const app = spawnApp(env);
  const timer = setTimeout(() => app.child.kill('SIGKILL'), 15_000);
  const code = await app.exited;
  clearTimeout(timer);
  await app.stop();
  return { code, output: app.output() };
}

/** A response as the tests need it (status, headers, body text). */
export interface BrowserResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * One browser: every cookie the apps set (by name; all on 127.0.0.1), sent to every app. Requests go
 * through node:http, which, unlike fetch, sends no `Sec-Fetch-Mode: cors` (login starts must look like
 * navigations).
 */
export class Browser {
  readonly #jar = new Map<string, string>();

  get cookies(): ReadonlyMap<string, string> {
    return this.#jar;
  }

  request(
    url: string,
    init: { method?: string; headers?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        { method: init.method ?? 'GET', headers: { ...init.headers, ...(cookie && { cookie }) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
              const [pair, ...attributes] = line.split(';');
              const eq = pair!.indexOf('=');
              const name = pair!.slice(0, eq).trim();
              const value = pair!.slice(eq + 1).trim();
              const expired = attributes.some(
                (a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a),
              );
              if (expired || value === '') this.#jar.delete(name);
              else this.#jar.set(name, value);
            }
            const body = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: {
                get: (name: string) => {
                  const v = res.headers[name.toLowerCase()];
                  return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
                },
              },
              text: async () => body,
              json: async () => JSON.parse(body) as unknown,
            });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  get(url: string): Promise<BrowserResponse> {
    return this.request(url);
  }

  /** Starts a login on `startOn`, authorizes as `userId` at the emulator and calls back on `callbackOn`. */
  async login(startOn: string, callbackOn: string, userId: string): Promise<BrowserResponse> {
    const start = await this.get(`${startOn}/auth/kakao`);
    if (start.status !== 302) throw new Error(`login start answered ${start.status}`);
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('login_hint', userId);
    const approved = await fetch(authorize, { redirect: 'manual' });
    const callback = new URL(approved.headers.get('location')!);
    return this.get(`${callbackOn}${callback.pathname}${callback.search}`);
  }

  /** The express-session id in the `kle.sid` cookie. */
  sessionId(): string | undefined {
    const value = this.#jar.get('kle.sid');
    if (!value) return undefined;
    const decoded = decodeURIComponent(value);
    return decoded.slice(2, decoded.lastIndexOf('.'));
  }
}
