/**
 * The package as users get it: `npm pack` once, then every app under test/consumers/apps/ installed
 * from its own lockfile plus the tarball (in a temporary copy), type-checked in strict mode with
 * skipLibCheck: false, and driven end to end against the Kakao emulator from the tarball and a
 * private redis-server. Checks waiting for the lead's new API are listed in ./pending.ts.
 *
 * Alone: `npx jest test/consumers` (builds dist/ first when it is stale).
 * KLE_KEEP_CONSUMERS=1 keeps the installed copies (their path is printed).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server';
import { browserSteps } from './harness/browser';
import {
  installConsumer,
  installedCopies,
  listConsumers,
  packTarball,
  ROOT,
  scratchRoot,
  startConsumer,
  typecheck,
  type Consumer,
  type Installed,
} from './harness/install';
import {
  KAKAO_USER_ID,
  localCoexistSteps,
  runSteps,
  standardSteps,
  type ScenarioResult,
} from './harness/scenarios';
import { PENDING, type Pending } from './pending';

const consumers = listConsumers();
const only = process.env.KLE_CONSUMERS?.split(',').filter(Boolean);
const selected = only ? consumers.filter((c) => only.includes(c.name)) : consumers;

let root: string;
let tarball: string;
let redis: RedisServerHandle;
const installed = new Map<string, Installed | Error>();
const timings: string[] = [];

beforeAll(async () => {
  root = scratchRoot();
  [redis, tarball] = await Promise.all([startRedisServer(), packTarball(root)]);
}, 120_000);

afterAll(async () => {
  await redis?.kill();
  if (process.env.KLE_KEEP_CONSUMERS === '1') process.stderr.write(`consumers kept in ${root}\n`);
  else if (root) rmSync(root, { recursive: true, force: true });
  if (timings.length > 0)
    process.stderr.write(`consumer timings:\n${timings.map((t) => `  ${t}`).join('\n')}\n`);
});

/** Asserts a pending check still fails the way it is listed, or that a normal check passed. */
function settle(
  name: string,
  kind: 'typecheck' | 'run' | 'deps',
  outcome: { ok: boolean; detail: string; failedAt?: string },
): void {
  const pending: Pending | undefined = PENDING[name];
  const expected = pending?.[kind];
  if (expected === undefined) {
    if (!outcome.ok) throw new Error(outcome.detail);
    return;
  }
  const label = `${name} ${kind} is listed in test/consumers/pending.ts (${pending?.reason})`;
  if (outcome.ok)
    throw new Error(`${label} but now passes: remove it from pending.ts to switch the check on.`);
  if (!(expected instanceof RegExp) && !Array.isArray(expected)) {
    if (outcome.failedAt !== expected.step || !expected.error.test(outcome.detail)) {
      throw new Error(
        `${label}: expected to fail at step "${expected.step}" with ${String(expected.error)}, ` +
          `failed at "${outcome.failedAt}":\n${outcome.detail}`,
      );
    }
    return;
  }
  if (expected instanceof RegExp) {
    if (!expected.test(outcome.detail)) {
      throw new Error(`${label}: expected output matching ${String(expected)}, got:\n${outcome.detail}`);
    }
    return;
  }
  // A pending type check may only fail with the errors it is waiting for: anything else is new.
  const errors = outcome.detail.split('\n').filter((line) => /: error TS\d+:/.test(line));
  const unexpected = errors.filter((line) => !expected.some((pattern) => pattern.test(line)));
  if (errors.length === 0 || unexpected.length > 0) {
    throw new Error(
      `${label}: errors other than the listed ones:\n${unexpected.join('\n') || outcome.detail}`,
    );
  }
}

function pendingNote(name: string, kind: 'typecheck' | 'run' | 'deps'): string {
  return PENDING[name]?.[kind] === undefined ? '' : ' [pending: expected to fail until the new API lands]';
}

test(`package.json dependencies match what dist/ loads${pendingNote('dependencies', 'deps')}`, async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, 'scripts/check-deps.mjs'), '--json'],
    {
      cwd: ROOT,
    },
  ).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
  const result = JSON.parse(stdout) as { problems: string[] };
  settle('dependencies', 'deps', { ok: result.problems.length === 0, detail: result.problems.join('\n') });
});

function installedOf(consumer: Consumer): Installed {
  const entry = installed.get(consumer.name);
  if (entry === undefined) throw new Error(`${consumer.name} was not installed`);
  if (entry instanceof Error) throw new Error(`${consumer.name} could not be installed: ${entry.message}`);
  return entry;
}

describe.each(selected.map((c) => [c.name, c] as const))('%s', (name, consumer) => {
  test(`installs from the tarball (${consumer.spec.description}) with one express and one passport`, async () => {
    try {
      const done = await installConsumer(consumer, tarball, root);
      installed.set(name, done);
      timings.push(`${name}: install ${done.installMs} ms`);
    } catch (error) {
      installed.set(name, error as Error);
      throw error;
    }
    const { dir } = installedOf(consumer);
    for (const pkg of ['express', 'passport']) {
      const copies = installedCopies(dir, pkg);
      expect(copies.map((c) => `${c.where}@${c.version}`)).toEqual([
        `node_modules/${pkg}@${copies[0]?.version}`,
      ]);
    }
    for (const [pkg, major] of Object.entries(consumer.spec.majors)) {
      const copies = installedCopies(dir, pkg).map((c) =>
        c.version.split('.').slice(0, major.split('.').length).join('.'),
      );
      expect({ [pkg]: copies }).toEqual({ [pkg]: [major] });
    }
  }, 120_000);

  if (consumer.spec.tsconfig) {
    test(`type-checks in strict mode with skipLibCheck: false${pendingNote(name, 'typecheck')}`, async () => {
      const result = await typecheck(installedOf(consumer));
      timings.push(`${name}: tsc ${result.ms} ms`);
      settle(name, 'typecheck', { ok: result.code === 0, detail: result.output.trim() });
    }, 120_000);
  }

  if (consumer.spec.start && consumer.spec.scenario) {
    const scenario = consumer.spec.scenario;
    test(`runs end to end: ${scenario}${pendingNote(name, 'run')}`, async () => {
      const started = Date.now();
      let result: ScenarioResult;
      let output = () => '';
      try {
        const server = await startConsumer(installedOf(consumer), {
          REDIS_URL: redis.url,
          KEY_PREFIX: uniquePrefix(`consumer-${name}`),
          SESSION_SECRET: randomBytes(32).toString('base64url'),
          TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
          KAKAO_USER_ID,
        });
        output = server.output;
        try {
          const steps =
            scenario === 'standard'
              ? standardSteps(server.endpoints)
              : scenario === 'local-coexist'
                ? localCoexistSteps(server.endpoints)
                : browserSteps(server.endpoints);
          try {
            result = await runSteps(steps.steps);
          } finally {
            await steps.close?.();
          }
        } finally {
          await server.stop();
        }
      } catch (error) {
        result = { passed: [], failedAt: 'start', error: error as Error };
      }
      timings.push(
        `${name}: run ${Date.now() - started} ms (${result.passed.length} steps passed${result.failedAt ? `, failed at ${result.failedAt}` : ''})`,
      );
      const detail = result.failedAt
        ? `failed at step "${result.failedAt}" (passed: ${result.passed.join(', ') || 'none'}): ${result.error?.message}\n--- consumer output ---\n${output().slice(-4000)}`
        : '';
      settle(name, 'run', { ok: result.failedAt === undefined, detail, failedAt: result.failedAt });
    }, 120_000);
  }
});
