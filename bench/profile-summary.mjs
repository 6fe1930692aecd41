/* global process, console */
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench -- --profile`): self time by
// function and by package, so that what limits an app shows without opening DevTools.
//
//   node bench/profile-summary.mjs .tmp/bench-prof/a-kle-….cpuprofile [--top 30] [--per <operations>]
import { readFileSync } from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [--top N] [--per OPERATIONS]');
  process.exit(2);
}
const topIndex = rest.indexOf('--top');
const top = topIndex >= 0 ? Number(rest[topIndex + 1]) : 30;
const perIndex = rest.indexOf('--per');
// With --per N (operations the process served), times are also shown in µs per operation.
const per = perIndex >= 0 ? Number(rest[perIndex + 1]) : undefined;

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** Where a function lives: an npm package, a file of this repository, node internals, or V8. */
function origin(url) {
  if (!url) return '(v8 / native)';
  if (url.startsWith('node:')) return 'node:internal';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const local = /\/(dist|example-app\/build|bench)\/(.+)$/.exec(url);
  return local ? `${local[1]}/${local[2]}` : url;
}

const parentOf = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

/** The nearest frame (the node itself or an ancestor) that belongs to a package or to this repository. */
function owner(id) {
  for (let cur = id; cur !== undefined; cur = parentOf.get(cur)) {
    const where = origin(byId.get(cur).callFrame.url);
    if (where !== '(v8 / native)' && where !== 'node:internal') return where;
  }
  return origin(byId.get(id).callFrame.url);
}

const byFunction = new Map();
const byOrigin = new Map();
const byOwner = new Map();
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id);
  const where = origin(callFrame.url);
  const name = `${callFrame.functionName || '(anonymous)'}  ${where}:${callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  byOrigin.set(where, (byOrigin.get(where) ?? 0) + us);
  if (callFrame.functionName !== '(idle)') {
    const charged = owner(id);
    byOwner.set(charged, (byOwner.get(charged) ?? 0) + us);
  }
}

const pct = (us) =>
  `${((100 * us) / total).toFixed(1).padStart(5)} %${per ? `  ${(us / per).toFixed(0).padStart(5)} µs/op` : ''}`;
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`${pct(us)}  ${name}`);
};
const idle = [...selfUs].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)');
const idleUs = idle.reduce((a, [, us]) => a + us, 0);
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(idleUs).trim()} idle`);
print('Self time by origin', byOrigin, 20);
print(
  'Busy time charged to the nearest package or repository frame (native and node: work included)',
  byOwner,
  20,
);
print(`Self time by function (top ${top})`, byFunction, top);
