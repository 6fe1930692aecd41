/**
 * Packs this checkout once, copies consumer apps out of the repository and installs them as a user
 * would: `npm ci` from the app's committed lockfile, then the tarball with `npm install --no-save`.
 * Every npm call shares the normal npm cache and prefers it (`--prefer-offline`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = path.resolve(__dirname, '../../..');
export const APPS_DIR = path.join(ROOT, 'test/consumers/apps');

/** `apps/<name>/consumer.json`. */
export interface ConsumerSpec {
  /** What the consumer stands for (shown in the test names). */
  description: string;
  /** Majors the installed tree must have, e.g. `{ "express": "4", "passport": "0.6" }`. */
  majors: Record<string, string>;
  /** A tsconfig to compile (strict, skipLibCheck false); its output is what runs. Absent for JS apps. */
  tsconfig?: string;
  /** The server entry (after compilation), started with node; absent for types-only consumers. */
  start?: string;
  /** Which driver runs against the started server. */
  scenario?: 'standard' | 'local-coexist' | 'browser';
  /** Files copied into the app before install, `{ "../shared/usage.ts": "usage.ts" }`. */
  copy?: Record<string, string>;
}

export interface Consumer {
  name: string;
  spec: ConsumerSpec;
  /** The app's source directory in the repository. */
  source: string;
}

export function listConsumers(): Consumer[] {
  return readdirSync(APPS_DIR)
    .filter((name) => existsSync(path.join(APPS_DIR, name, 'consumer.json')))
    .sort()
    .map((name) => ({
      name,
      source: path.join(APPS_DIR, name),
      spec: JSON.parse(readFileSync(path.join(APPS_DIR, name, 'consumer.json'), 'utf8')) as ConsumerSpec,
    }));
}

export interface CommandResult {
  code: number;
  output: string;
  ms: number;
}

/** Runs a command, never throws for a non-zero exit; output is stdout + stderr. */
export async function command(
  file: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  const started = Date.now();
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}`, ms: Date.now() - started };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      output: `${e.stdout ?? ''}${e.stderr ?? e.message}`,
      ms: Date.now() - started,
    };
  }
}

const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];

function newestMtime(dir: string, extension: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full, extension));
    else if (entry.name.endsWith(extension)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * `npm pack` of this checkout into `dir`, building dist/ first when it is missing or older than
 * lib/ (so running this file alone never tests a stale build). Returns the tarball's path.
 */
export async function packTarball(dir: string): Promise<string> {
  const dist = path.join(ROOT, 'dist');
  const stale =
    !existsSync(path.join(dist, 'index.js')) ||
    newestMtime(path.join(ROOT, 'lib'), '.ts') > newestMtime(dist, '.js');
  if (stale) {
    const built = await command('npm', ['run', '--silent', 'prepack'], ROOT);
    if (built.code !== 0) throw new Error(`building dist/ failed:\n${built.output}`);
  }
  const packed = await command(
    'npm',
    ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir],
    ROOT,
  );
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.output}`);
  const name = packed.output.trim().split('\n').pop() ?? '';
  const tarball = path.join(dir, name);
  if (!existsSync(tarball))
    throw new Error(`npm pack printed ${JSON.stringify(name)}, no such file in ${dir}`);
  return tarball;
}

export function scratchRoot(): string {
  return mkdtempSync(path.join(tmpdir(), 'kle-consumers-'));
}

export interface Installed {
  consumer: Consumer;
  /** The temporary copy the app was installed into. */
  dir: string;
  installMs: number;
}

/** Copies the app out of the repository and installs it with its lockfile plus the tarball. */
export async function installConsumer(consumer: Consumer, tarball: string, root: string): Promise<Installed> {
  const dir = path.join(root, consumer.name);
  cpSync(consumer.source, dir, {
    recursive: true,
    filter: (from) => !/[\\/](node_modules|build)([\\/]|$)/.test(path.relative(consumer.source, from)),
  });
  for (const [from, to] of Object.entries(consumer.spec.copy ?? {})) {
    cpSync(path.resolve(consumer.source, from), path.join(dir, to), { recursive: true });
  }
  const started = Date.now();
  const ci = await command('npm', ['ci', ...NPM_FLAGS], dir);
  if (ci.code !== 0) throw new Error(`npm ci in ${consumer.name} failed:\n${ci.output}`);
  const add = await command('npm', ['install', '--no-save', ...NPM_FLAGS, tarball], dir);
  if (add.code !== 0) throw new Error(`npm install <tarball> in ${consumer.name} failed:\n${add.output}`);
  return { consumer, dir, installMs: Date.now() - started };
}

/** Versions of `name` anywhere in the installed tree (one entry per copy on disk). */
export function installedCopies(dir: string, name: string): { where: string; version: string }[] {
  const found: { where: string; version: string }[] = [];
  const visit = (modules: string) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      const packages = entry.startsWith('@')
        ? readdirSync(path.join(modules, entry)).map((sub) => `${entry}/${sub}`)
        : [entry];
      for (const pkg of packages) {
        const pkgDir = path.join(modules, pkg);
        if (pkg === name) {
          const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
            version: string;
          };
          found.push({ where: path.relative(dir, pkgDir), version });
        }
        visit(path.join(pkgDir, 'node_modules'));
      }
    }
  };
  visit(path.join(dir, 'node_modules'));
  return found;
}

/** Compiles the consumer with its own TypeScript when it has one, else this repository's. */
export async function typecheck(installed: Installed): Promise<CommandResult> {
  const own = path.join(installed.dir, 'node_modules/typescript/bin/tsc');
  const tsc = existsSync(own) ? own : path.join(ROOT, 'node_modules/typescript/bin/tsc');
  return command(
    process.execPath,
    [tsc, '-p', installed.consumer.spec.tsconfig ?? 'tsconfig.json', '--pretty', 'false'],
    installed.dir,
  );
}

/** A started consumer server. */
export interface RunningConsumer {
  endpoints: { url: string; emulator: string; emulatorToken: string };
  /** Everything the server printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const READY = 'KLE_CONSUMER_READY ';

/** Starts `node <start>` in the installed app and waits for its `KLE_CONSUMER_READY {json}` line. */
export function startConsumer(installed: Installed, env: Record<string, string>): Promise<RunningConsumer> {
  const entry = installed.consumer.spec.start;
  if (!entry) throw new Error(`${installed.consumer.name} has no "start" entry`);
  const child: ChildProcess = spawn(process.execPath, [entry], {
    cwd: installed.dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      void stop();
      reject(
        new Error(`${installed.consumer.name} did not print ${READY.trim()} within 20 s. Output:\n${output}`),
      );
    }, 20_000);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
      const line = output.split('\n').find((l) => l.startsWith(READY));
      if (!line) return;
      clearTimeout(timeout);
      child.stdout?.off('data', onData);
      child.stdout?.on('data', (more: Buffer) => (output = (output + more.toString('utf8')).slice(-20_000)));
      try {
        const endpoints = JSON.parse(line.slice(READY.length)) as RunningConsumer['endpoints'];
        resolve({ endpoints, output: () => output, stop });
      } catch (error) {
        void stop();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-20_000)));
    void exited.then(() => {
      clearTimeout(timeout);
      reject(
        new Error(
          `${installed.consumer.name} exited (code ${child.exitCode}) before it was ready. Output:\n${output}`,
        ),
      );
    });
  });
}
