/* global process, setTimeout, clearTimeout */
// Child processes of the bench: one redis-server, one emulator, one process per app. Every child is
// tracked and killed on exit, also when the bench fails or is interrupted.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

const children = new Set();

function killAll(signal) {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}
process.on('exit', () => killAll('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll('SIGKILL');
    process.exit(130);
  });
}

/** A free TCP port on 127.0.0.1 (there is a small race until the caller binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `command args` and resolves with `{ child, match }` once a line of its stdout matches `pattern`.
 * The rest of its output is drained (kept only as the last lines, for error messages).
 */
export function spawnAndWait(name, command, args, { env, pattern, timeoutMs = 20_000 }) {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const tail = [];
  const remember = (line) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    const timer = setTimeout(
      () => finish(new Error(`${name} did not start within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (err, match) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(new Error(`${err.message}\n--- last output of ${name} ---\n${tail.join('\n')}`));
      } else resolve({ child, match, stop: () => stopChild(child) });
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (done) return;
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        remember(line);
        const match = pattern.exec(line);
        if (match) finish(undefined, match);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      for (const line of chunk.split('\n')) if (line) remember(line);
    });
    child.once('exit', (code, signal) => finish(new Error(`${name} exited early (${signal ?? code})`)));
    child.once('error', (err) => finish(err));
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the child has exited. */
export function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a private redis-server (no persistence) on a free port; resolves with `{ url, port, client, stop }`. */
export async function startRedis() {
  const port = await freePort();
  const { child } = await spawnAndWait(
    'redis-server',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { env: process.env, pattern: /Ready to accept connections/, timeoutMs: 10_000 },
  );
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 3 });
  await client.connect();
  await client.ping();
  return { url: `redis://127.0.0.1:${port}`, port, client, pid: child.pid, stop: () => stopChild(child) };
}

let clockTicks;
/** CPU time (user + system) of process `pid` in ms, from /proc; NaN where /proc is not available. */
export function cpuMs(pid) {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return NaN;
  }
}
