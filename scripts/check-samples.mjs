#!/usr/bin/env node
/**
 * Type-checks every code sample users read against the packed package, and runs the complete apps.
 *
 *   node scripts/check-samples.mjs [--tarball path.tgz] [--only README.md|lib|lib/x.ts] [--extra doc.md] [--keep] [--json]
 *
 * `--extra` adds another Markdown file (the checker's own fixture uses it).
 *
 * Samples are the fenced ```ts / ```js blocks of README.md and README.ko.md, and the fenced blocks
 * after `@example` in the TSDoc of lib/**\/*.ts. Each one becomes its own module in a scratch app
 * (test/samples/envs/<env>: its package.json and lockfile, `npm ci`, then the tarball) and is compiled
 * strict as ESM TypeScript (`module: nodenext`); js blocks are checked with `checkJs`.
 *
 * The convention, one HTML comment on the line before the fence (in TSDoc: ` * <!-- … -->`):
 *
 *   <!-- sample: skip=<reason> -->        not checked (shell-like fragments, pseudo-code); the reason,
 *                                         required, is the rest of the comment
 *   <!-- sample: prelude=<name>[,<name>] --> prepend declarations the fragment assumes (PRELUDES below)
 *   <!-- sample: cjs -->                  compile as CommonJS (.cts/.cjs) instead of ESM
 *   <!-- sample: env=<name> -->           use test/samples/envs/<name> (e.g. ioredis: connect-redis 8)
 *   <!-- sample: run=/path -->            a complete app: compile, start with PORT, REDIS_URL, the
 *                                         emulator's KAKAO_* and secrets in the environment, GET /path,
 *                                         expect a status below 500, stop
 *
 * Options combine: `<!-- sample: prelude=express-app env=ioredis -->`. A block whose first line is
 * `// @sample-skip <reason>` is skipped too. TSDoc examples also get the package's exports (and the
 * exports of their own module) imported automatically, for the names they use and do not declare.
 *
 * Prints one line per failing sample with file:line, the block's first line and the compiler's
 * errors mapped back to the Markdown/TSDoc line; exits 1 when any sample fails.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..');
const ENVS = path.join(ROOT, 'test/samples/envs');
const run = promisify(execFile);
const ts = createRequire(path.join(ROOT, 'package.json'))('typescript');

/** What a fragment may assume: per prelude, the names it declares and their types. */
export const PRELUDES = {
  'express-app': { app: "import('express').Express" },
  'kakao-auth': { app: "import('express').Express", auth: "import('kakao-login-express').KakaoAuthRouter" },
  'ioredis-client': { redis: "import('ioredis').Redis" },
  verify: { verify: "import('kakao-login-express').KakaoVerifyFunction", callbackURL: 'string' },
};

/** The declarations of a prelude in the sample's language (JSDoc types in js samples). */
function preludeLines(names, lang) {
  return Object.entries(names).map(([name, type]) =>
    lang === 'ts'
      ? `declare const ${name}: ${type};`
      : `/** @type {${type}} */ const ${name} = /** @type {any} */ (undefined);`,
  );
}

const LANGS = new Map([
  ['ts', 'ts'],
  ['typescript', 'ts'],
  ['js', 'js'],
  ['javascript', 'js'],
]);

/** Parses `key=value key2 key3=a,b` from a `<!-- sample: … -->` comment. */
export function parseDirective(line) {
  const match = /<!--\s*sample:\s*(.*?)\s*-->/.exec(line ?? '');
  if (!match) return {};
  const options = {};
  // `skip=` takes the rest of the comment as its reason, so it comes last.
  let text = match[1];
  const skip = /(?:^|\s)skip(?:=(.*))?$/.exec(text);
  if (skip) {
    options.skip = skip[1]?.trim() || true;
    text = text.slice(0, skip.index);
  }
  for (const [, key, value] of text.matchAll(/([a-z]+)(?:=((?:"[^"]*")|\S+))?/g)) {
    options[key] = value === undefined ? true : value.replace(/^"|"$/g, '');
  }
  return options;
}

/**
 * Fenced blocks of a Markdown text (optionally each line with a ` * ` TSDoc prefix already removed).
 * `lineOffset` is added to the 1-based line numbers.
 */
export function extractBlocks(text, file, lineOffset = 0) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([A-Za-z]+)?\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end].trim().startsWith(fence)) end++;
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
    const lang = LANGS.get((info ?? '').toLowerCase());
    if (lang) {
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === '') before--;
      const options = parseDirective(lines[before]);
      const skipLine = /^\s*\/\/\s*@sample-skip\b\s*(.*)$/.exec(body[0] ?? '');
      if (skipLine) options.skip = skipLine[1] || true;
      blocks.push({ file, line: i + 2 + lineOffset, lang, code: body.join('\n'), options });
    }
    i = end;
  }
  return blocks;
}

/** `@example` blocks of the TSDoc comments in one source file. */
export function extractExamples(source, file) {
  const blocks = [];
  for (const match of source.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const startLine = source.slice(0, match.index).split('\n').length;
    const comment = match[0].split('\n').map((l) => l.replace(/^\s*\/?\*\*?\s?/, '').replace(/\*\/\s*$/, ''));
    const at = comment.findIndex((l) => /@example\b/.test(l));
    if (at < 0) continue;
    // From @example to the next tag (or the end of the comment).
    let end = at + 1;
    while (end < comment.length && !/^@[a-z]/i.test(comment[end].trim())) end++;
    const section = comment.slice(at + 1, end).join('\n');
    for (const block of extractBlocks(section, file, startLine + at)) blocks.push({ ...block, tsdoc: true });
  }
  return blocks;
}

function collectSamples(only, extra = []) {
  const samples = [];
  for (const file of extra)
    samples.push(
      ...extractBlocks(readFileSync(path.resolve(file), 'utf8'), path.relative(ROOT, path.resolve(file))),
    );
  for (const readme of ['README.md', 'README.ko.md']) {
    const full = path.join(ROOT, readme);
    if (existsSync(full) && (!only || only === readme))
      samples.push(...extractBlocks(readFileSync(full, 'utf8'), readme));
  }
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const rel = path.relative(ROOT, full);
        if (!only || only === rel || (only === 'lib' && rel.startsWith('lib/'))) {
          samples.push(...extractExamples(readFileSync(full, 'utf8'), rel));
        }
      }
    }
  };
  walk(path.join(ROOT, 'lib'));
  return samples;
}

async function sh(file, args, cwd, env = process.env) {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    return {
      code: typeof error.code === 'number' ? error.code : 1,
      output: `${error.stdout ?? ''}${error.stderr ?? error.message}`,
    };
  }
}

const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];

async function pack(dir) {
  if (!existsSync(path.join(ROOT, 'dist/index.js'))) {
    const built = await sh('npm', ['run', '--silent', 'prepack'], ROOT);
    if (built.code !== 0) throw new Error(`building dist/ failed:\n${built.output}`);
  }
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], ROOT);
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.output}`);
  return path.join(dir, packed.output.trim().split('\n').pop());
}

async function installEnv(name, tarball, scratch) {
  const source = path.join(ENVS, name);
  if (!existsSync(path.join(source, 'package.json')))
    throw new Error(`unknown sample env "${name}" (no ${path.relative(ROOT, source)}/package.json)`);
  const dir = path.join(scratch, `env-${name}`);
  cpSync(source, dir, { recursive: true });
  for (const args of [
    ['ci', ...NPM_FLAGS],
    ['install', '--no-save', ...NPM_FLAGS, tarball],
  ]) {
    const result = await sh('npm', args, dir);
    if (result.code !== 0) throw new Error(`npm ${args[0]} in sample env ${name} failed:\n${result.output}`);
  }
  return dir;
}

/** Exported names of a module's declaration file, through the compiler. */
function exportedNames(declarationFile) {
  const program = ts.createProgram([declarationFile], {
    skipLibCheck: true,
    noEmit: true,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(declarationFile);
  const symbol = source && checker.getSymbolAtLocation(source);
  return symbol ? checker.getExportsOfModule(symbol).map((s) => s.getName()) : [];
}

/** Names a sample declares at its top level, and every identifier it uses. */
function namesOf(code) {
  const source = ts.createSourceFile('sample.ts', code, ts.ScriptTarget.ES2022, true);
  const declared = new Set();
  const used = new Set();
  const visit = (node) => {
    if (ts.isIdentifier(node)) used.add(node.text);
    ts.forEachChild(node, visit);
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.name) declared.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) declared.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings))
        for (const el of bindings.elements) declared.add(el.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const decl of statement.declarationList.declarations)
        if (ts.isIdentifier(decl.name)) declared.add(decl.name.text);
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement)) &&
      statement.name
    ) {
      declared.add(statement.name.text);
    }
  }
  visit(source);
  return { declared, used };
}

/** Diagnostics that make tsc skip the semantic checks of every file. */
const SYNTAX_ERROR = / error TS(1\d{3}|8\d{3}|17\d{3}):/;

function sampleId(sample, index) {
  return `s${String(index).padStart(3, '0')}-${sample.file.replace(/[^A-Za-z0-9]+/g, '_')}-L${sample.line}`;
}

/** Writes one module per sample into `<env>/samples`, returns the line offsets of their preludes. */
function writeSamples(envDir, samples, packageExports) {
  const dir = path.join(envDir, 'samples');
  mkdirSync(dir, { recursive: true });
  for (const sample of samples) {
    const cjs = sample.options.cjs === true;
    const ext = sample.lang === 'ts' ? (cjs ? '.cts' : '.ts') : cjs ? '.cjs' : '.js';
    const header = [];
    const unknownPreludes = [];
    for (const name of String(sample.options.prelude ?? '')
      .split(',')
      .filter(Boolean)) {
      if (PRELUDES[name]) header.push(...preludeLines(PRELUDES[name], sample.lang));
      else unknownPreludes.push(name);
    }
    if (unknownPreludes.length > 0)
      sample.problem = `unknown prelude ${unknownPreludes.join(', ')} (known: ${Object.keys(PRELUDES).join(', ')})`;
    if (sample.tsdoc) {
      const { declared, used } = namesOf(sample.code);
      const wanted = (names) => names.filter((n) => used.has(n) && !declared.has(n));
      const entry = sample.file.startsWith('lib/testing/')
        ? 'kakao-login-express/testing'
        : 'kakao-login-express';
      const fromEntry = wanted(packageExports[entry]);
      if (fromEntry.length > 0) header.push(`import { ${fromEntry.join(', ')} } from '${entry}';`);
      const moduleFile = path.join(
        envDir,
        'node_modules/kakao-login-express/dist',
        sample.file.replace(/^lib\//, '').replace(/\.ts$/, '.d.ts'),
      );
      if (existsSync(moduleFile)) {
        const own = wanted(exportedNames(moduleFile)).filter((n) => !fromEntry.includes(n));
        const spec = `../node_modules/kakao-login-express/dist/${sample.file.replace(/^lib\//, '').replace(/\.ts$/, '.js')}`;
        if (own.length > 0) header.push(`import { ${own.join(', ')} } from '${spec}';`);
      }
    }
    sample.id = sampleId(sample, samples.indexOf(sample));
    sample.path = path.join(dir, `${sample.id}${ext}`);
    sample.headerLines = header.length;
    writeFileSync(
      sample.path,
      `${header.join('\n')}${header.length ? '\n' : ''}${sample.code}\nexport {};\n`,
    );
  }
}

function tsconfigFor(envDir, samples) {
  const config = {
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noUncheckedIndexedAccess: true,
      esModuleInterop: true,
      skipLibCheck: true,
      allowJs: true,
      checkJs: true,
      types: ['node'],
      rootDir: 'samples',
      outDir: 'build',
    },
    files: samples.map((sample) => path.relative(envDir, sample.path)),
  };
  writeFileSync(path.join(envDir, 'tsconfig.json'), JSON.stringify(config, null, 2));
}

/** `samples/<id>.ts(12,5): error TS2304: …` → that sample's errors with Markdown/TSDoc lines. */
function mapErrors(output, samples) {
  const byId = new Map(samples.map((s) => [s.id, s]));
  let current;
  for (const line of output.split('\n')) {
    const match = /^samples\/(s\d{3}-[^.(]+)\.[a-z]+\((\d+),(\d+)\): (error TS\d+: .*)$/.exec(line);
    if (match) {
      current = byId.get(match[1]);
      if (!current) continue;
      const sampleLine = Number(match[2]) - current.headerLines;
      const where =
        sampleLine >= 1
          ? `${current.file}:${current.line + sampleLine - 1}:${match[3]}`
          : `${current.file}:${current.line} (prelude)`;
      (current.errors ??= []).push(`${where} ${match[4]}`);
    } else if (current && /^\s+\S/.test(line)) {
      current.errors[current.errors.length - 1] += `\n    ${line.trim()}`;
    } else {
      current = undefined;
    }
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Starts a compiled complete-app sample and GETs its route. */
async function runSample(sample, envDir, env) {
  const port = await freePort();
  const js = path.join(
    envDir,
    'build',
    path
      .basename(sample.path)
      .replace(/\.ts$/, '.js')
      .replace(/\.cts$/, '.cjs'),
  );
  const child = spawn(process.execPath, [js], {
    cwd: envDir,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null)
        return `exited with code ${child.exitCode} before answering: ${output.slice(-1500)}`;
      try {
        const response = await fetch(`http://127.0.0.1:${port}${sample.options.run}`, {
          redirect: 'manual',
          signal: AbortSignal.timeout(2000),
        });
        if (response.status >= 500)
          return `GET ${sample.options.run} answered ${response.status}: ${(await response.text()).slice(0, 300)} ${output.slice(-1500)}`;
        return undefined;
      } catch {
        if (Date.now() > deadline)
          return `did not answer on PORT=${port} within 15 s (does it listen on process.env.PORT?): ${output.slice(-1500)}`;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

export async function checkSamples({ tarball, only, extra = [], keep = false } = {}) {
  const samples = collectSamples(only, extra);
  const scratch = mkdtempSync(path.join(tmpdir(), 'kle-samples-'));
  const checked = samples.filter((s) => !s.options.skip);
  try {
    const tgz = tarball ?? (await pack(scratch));
    const byEnv = new Map();
    for (const sample of checked) {
      const env = String(sample.options.env ?? 'default');
      if (!byEnv.has(env)) byEnv.set(env, []);
      byEnv.get(env).push(sample);
    }
    let redis;
    let emulator;
    for (const [env, list] of byEnv) {
      const envDir = await installEnv(env, tgz, scratch);
      const packageExports = Object.fromEntries(
        ['kakao-login-express', 'kakao-login-express/testing'].map((entry) => [
          entry,
          exportedNames(
            path.join(
              envDir,
              'node_modules/kakao-login-express/dist',
              entry.endsWith('testing') ? 'testing/index.d.ts' : 'index.d.ts',
            ),
          ),
        ]),
      );
      writeSamples(envDir, list, packageExports);
      // tsc reports no semantic errors at all while any file has a syntax error: samples with
      // syntax errors are reported and left out, and the rest is compiled again.
      let remaining = list;
      for (let pass = 0; pass < 5 && remaining.length > 0; pass++) {
        tsconfigFor(envDir, remaining);
        const tsc = await sh(
          process.execPath,
          [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--pretty', 'false'],
          envDir,
        );
        mapErrors(tsc.output, remaining);
        if (tsc.code !== 0 && remaining.every((s) => !s.errors)) {
          for (const s of remaining)
            s.errors = [`the compiler failed without a sample error:\n${tsc.output.slice(0, 2000)}`];
        }
        const syntax = remaining.filter((s) => s.errors?.some((e) => SYNTAX_ERROR.test(e)));
        if (syntax.length === 0) break;
        remaining = remaining.filter((s) => !syntax.includes(s));
        for (const s of remaining) delete s.errors;
      }
      for (const sample of list.filter((s) => s.options.run && !s.errors && !s.problem)) {
        if (!redis) redis = await startRedis();
        if (!emulator) {
          const testing = createRequire(path.join(envDir, 'package.json'))('kakao-login-express/testing');
          emulator = await testing.createKakaoEmulator({ autoApprove: true });
        }
        const failure = await runSample(sample, envDir, {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'development',
          REDIS_URL: redis.url,
          KAKAO_CLIENT_ID: emulator.clientID,
          KAKAO_AUTH_ORIGIN: emulator.authOrigin,
          KAKAO_API_ORIGIN: emulator.apiOrigin,
          SESSION_SECRET: randomBytes(32).toString('base64url'),
          TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        });
        if (failure) sample.runError = failure;
      }
    }
    redis?.stop();
    await emulator?.close();
  } finally {
    if (keep) process.stderr.write(`samples kept in ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
  const failures = checked
    .filter((s) => s.errors || s.problem || s.runError)
    .map((s) => ({
      where: `${s.file}:${s.line}`,
      first:
        s.code
          .split('\n')
          .find((l) => l.trim() !== '')
          ?.trim()
          .slice(0, 80) ?? '',
      errors: [
        ...(s.problem ? [s.problem] : []),
        ...(s.errors ?? []),
        ...(s.runError ? [`run: ${s.runError}`] : []),
      ],
    }));
  return {
    total: samples.length,
    checked: checked.length,
    ran: checked.filter((s) => s.options.run).length,
    checkedWhere: checked.map((s) => `${s.file}:${s.line}`),
    skipped: samples
      .filter((s) => s.options.skip)
      .map((s) => `${s.file}:${s.line} (${s.options.skip === true ? 'no reason' : s.options.skip})`),
    failures,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const extra = process.argv.flatMap((a, i) => (a === '--extra' ? [process.argv[i + 1]] : []));
  const result = await checkSamples({
    tarball: arg('--tarball'),
    only: arg('--only'),
    extra,
    keep: process.argv.includes('--keep'),
  });
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    for (const failure of result.failures) {
      console.log(`FAIL ${failure.where}  ${failure.first}`);
      for (const error of failure.errors) console.log(`  ${error}`);
    }
    const noReason = result.skipped.filter((s) => s.endsWith('(no reason)'));
    for (const s of noReason) console.log(`FAIL ${s}: skip needs a reason (<!-- sample: skip=why -->)`);
    console.log(
      `samples: ${result.total} found, ${result.checked} checked, ${result.ran} run, ${result.skipped.length} skipped, ${result.failures.length} failing`,
    );
    process.exitCode = result.failures.length > 0 || noReason.length > 0 ? 1 : 0;
  }
}
