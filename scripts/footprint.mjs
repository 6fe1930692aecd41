#!/usr/bin/env node
/**
 * Install footprint of a packed kakao-login-express tarball in a fresh Express app.
 *
 *   node scripts/footprint.mjs [path/to/kakao-login-express-x.y.z.tgz]   (default: npm pack of this checkout)
 *
 * For Express 4 and Express 5 it creates an app in a temporary directory, installs express,
 * express-session and passport (what an app has before adding the library), measures, installs the
 * tarball, measures again, and prints packages and megabytes added plus `npm ls express passport`.
 * Uses the normal npm cache; prints a Markdown table.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const npm = (args, cwd) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function packThisCheckout() {
  const out = mkdtempSync(path.join(tmpdir(), 'kle-footprint-pack-'));
  const name = npm(['pack', '--silent', '--pack-destination', out], root).trim().split('\n').pop();
  return path.join(out, name);
}

function measure(dir) {
  const bytes = Number(
    execFileSync('du', ['-sb', 'node_modules'], { cwd: dir, encoding: 'utf8' }).split('\t')[0],
  );
  const human = execFileSync('du', ['-sh', 'node_modules'], { cwd: dir, encoding: 'utf8' }).split('\t')[0];
  // `npm ls --all` prints one line per package occurrence (plus the root line).
  let ls;
  try {
    ls = npm(['ls', '--all'], dir);
  } catch (error) {
    ls = error.stdout ?? '';
  }
  return { bytes, human, lines: ls.trim().split('\n').length };
}

function addedPackages(output) {
  const match = /added (\d+) packages?/.exec(output);
  return match ? Number(match[1]) : 0;
}

const tarball = path.resolve(process.argv[2] ?? packThisCheckout());
const rows = [];
for (const [label, express, passport] of [
  ['Express 4 + passport 0.6', 'express@^4.21.0', 'passport@^0.6.0'],
  ['Express 5 + passport 0.7', 'express@^5.0.0', 'passport@^0.7.0'],
]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kle-footprint-'));
  try {
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'footprint-app', private: true }));
    npm(
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        express,
        'express-session@^1.17.0',
        passport,
      ],
      dir,
    );
    const before = measure(dir);
    const out = npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], dir);
    const after = measure(dir);
    let tree;
    try {
      tree = npm(['ls', 'express', 'passport'], dir);
    } catch (error) {
      tree = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    }
    rows.push({ label, before, after, added: addedPackages(out), tree: tree.trim() });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`tarball: ${path.basename(tarball)}\n`);
console.log(
  '| app | node_modules before | after | added (npm) | MB added | `npm ls --all` lines before → after |',
);
console.log('|---|---:|---:|---:|---:|---|');
for (const { label, before, after, added } of rows) {
  const mb = ((after.bytes - before.bytes) / 1e6).toFixed(1);
  console.log(
    `| ${label} | ${before.human} | ${after.human} | ${added} | ${mb} | ${before.lines} → ${after.lines} |`,
  );
}
for (const { label, tree } of rows) console.log(`\n${label}: npm ls express passport\n${tree}`);
