#!/usr/bin/env node
/**
 * Checks package.json's dependencies against what the built package really loads:
 *
 * - every bare `require("x")` in dist/**\/*.js is a dependency or a required peer dependency;
 * - every dependency is required by dist at run time, or is the `@types/` package of one
 *   (types a published declaration file needs);
 * - every package a dist/**\/*.d.ts file imports types from is installed for every user: a
 *   dependency (with its own types, or its `@types/` package also a dependency) or a peer
 *   dependency; an optional peer `@types/x` covers x when x itself is a peer.
 * - every dependency range is a caret range.
 *
 *   node scripts/check-deps.mjs          prints the problems, exits 1 when there are any
 *   node scripts/check-deps.mjs --json   prints { runtime, types, problems } as JSON
 *
 * Run it after `npm run build` (it reads dist/).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, process.env.KLE_DIST_DIR ?? 'dist');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else yield full;
  }
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
const isBare = (s) =>
  !s.startsWith('.') &&
  !s.startsWith('/') &&
  !s.startsWith('node:') &&
  !builtinModules.includes(packageOf(s));
const typesPackageOf = (name) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;

function collect(extension, patterns) {
  const found = new Map();
  for (const file of files(dist)) {
    if (!file.endsWith(extension)) continue;
    // Comments go first: TSDoc examples in declaration files mention imports that are not real.
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/(?!\/\s*<reference).*$/gm, '');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) {
        if (!isBare(match[1])) continue;
        const name = packageOf(match[1]);
        if (!found.has(name)) found.set(name, new Set());
        found.get(name).add(path.relative(root, file));
      }
    }
  }
  return found;
}

export function checkDependencies() {
  const problems = [];
  if (!existsSync(dist))
    return {
      runtime: {},
      types: {},
      problems: [`${path.relative(root, dist)}/ is missing: run npm run build first`],
    };
  const runtime = collect('.js', [
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ]);
  const types = collect('.d.ts', [
    /\bfrom\s+["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\bimport\s+["']([^"']+)["']/g,
    /\/\/\/\s*<reference\s+types=["']([^"']+)["']/g,
  ]);
  const deps = pkg.dependencies ?? {};
  const peers = pkg.peerDependencies ?? {};
  const optional = pkg.peerDependenciesMeta ?? {};
  const requiredPeer = (name) => name in peers && !optional[name]?.optional;

  for (const [name, where] of runtime) {
    if (!(name in deps) && !requiredPeer(name)) {
      problems.push(
        `${[...where].join(', ')} require("${name}"), but "${name}" is neither a dependency nor a required peer dependency`,
      );
    }
  }
  for (const name of Object.keys(deps)) {
    const typesFor = name.startsWith('@types/')
      ? [...types.keys()].find((t) => typesPackageOf(t) === name)
      : undefined;
    if (!runtime.has(name) && !typesFor) {
      problems.push(
        `"${name}" is a dependency, but dist/ never requires it at run time: move it to devDependencies`,
      );
    }
    if (!/^\^\d/.test(deps[name]))
      problems.push(`dependency "${name}": "${deps[name]}" is not a caret range`);
  }
  for (const [name, where] of types) {
    const typesPkg = typesPackageOf(name);
    const installedForUsers = name in deps || name in peers;
    const typed = typesPkg in deps || typesPkg in peers || name in deps || name in peers;
    if (!installedForUsers || !typed) {
      problems.push(
        `${[...where].join(', ')} import types from "${name}", which is neither a dependency nor a peer dependency: ` +
          `a user without "${name}" fails to type-check with skipLibCheck: false (use structural types, or declare it)`,
      );
    }
  }
  const asObject = (map) => Object.fromEntries([...map].map(([k, v]) => [k, [...v].sort()]));
  return { runtime: asObject(runtime), types: asObject(types), problems };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = checkDependencies();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(`runtime requires: ${Object.keys(result.runtime).join(', ') || 'none'}`);
    console.log(`type imports:     ${Object.keys(result.types).join(', ') || 'none'}`);
    for (const problem of result.problems) console.log(`problem: ${problem}`);
    if (result.problems.length === 0) console.log('dependencies match dist/');
  }
  process.exitCode = result.problems.length > 0 ? 1 : 0;
}
