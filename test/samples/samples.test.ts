/**
 * Every code sample a user reads compiles against the packed package, and the complete apps run:
 * README.md (and README.ko.md), and the TSDoc `@example` blocks of lib/. The convention and the
 * checker are in scripts/check-samples.mjs; this file runs it once, with its own fixture, so the
 * checker's reporting is tested by the same run.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PENDING } from '../consumers/pending';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = 'test/samples/fixtures/samples.md';

interface Result {
  total: number;
  checked: number;
  ran: number;
  checkedWhere: string[];
  skipped: string[];
  failures: { where: string; first: string; errors: string[] }[];
}

let result: Result;

beforeAll(async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['scripts/check-samples.mjs', '--json', '--extra', FIXTURE],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  result = JSON.parse(stdout) as Result;
}, 240_000);

const inFixture = (where: string) => where.startsWith(`${FIXTURE}:`);

test("the checker reports its fixture's broken block at the right line, skips with reasons, runs the app", () => {
  const lines = readFileSync(path.join(ROOT, FIXTURE), 'utf8').split('\n');
  const broken = lines.findIndex((line) => line.startsWith('const cipher: number')) + 1;
  const failures = result.failures.filter((f) => inFixture(f.where));
  expect(failures.map((f) => f.errors.map((e) => e.split(' ').slice(0, 3).join(' ')))).toEqual([
    [`${FIXTURE}:${broken}:7 error TS2322:`],
  ]);
  expect(result.skipped.filter(inFixture).map((s) => s.replace(/^.*\(/, '('))).toEqual([
    '(shell session, not code)',
    '(pseudo-code)',
  ]);
  expect(result.checkedWhere.filter(inFixture)).toHaveLength(4);
  expect(result.ran).toBeGreaterThanOrEqual(1);
});

test(`README and TSDoc samples compile${PENDING.samples ? ' [pending: expected to fail until the README and TSDoc are rewritten]' : ''}`, () => {
  expect(result.checkedWhere.filter((w) => w.startsWith('README.md:')).length).toBeGreaterThan(0);
  const failures = result.failures.filter((f) => !inFixture(f.where));
  const report = failures.map((f) => `${f.where}  ${f.first}\n  ${f.errors.join('\n  ')}`).join('\n');
  const pending = PENDING.samples?.samples;
  if (!pending) {
    expect(report).toBe('');
    return;
  }
  if (failures.length === 0) {
    throw new Error(
      'samples are listed in test/consumers/pending.ts but now pass: remove the entry to switch the check on.',
    );
  }
  const unexpected = failures.filter((f) => !pending.test(f.where));
  expect(unexpected.map((f) => f.where)).toEqual([]);
  // The pending failures, for whoever fixes the docs (also: node scripts/check-samples.mjs).
  process.stderr.write(`samples failing (pending):\n${report}\n`);
});
