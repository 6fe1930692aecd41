/* global process, console, setTimeout */
// Benchmark: kakao-login-express's example app (a) against passport-kakao 1.0.1 (b) and a bare
// express-session + connect-redis + passport.session() app (c), all measured in the same run.
//
//   npm run bench                      # default: 5 rounds, under 3 minutes
//   npm run bench -- --quick           # 2 short rounds, under a minute (indicative only)
//   npm run bench -- --rounds 9 --login-seconds 8 --me-seconds 10
//   npm run bench -- --profile         # also write CPU profiles of the three apps to .tmp/bench-prof/
//
// Needs the built library and example app (`npm run build`) and `redis-server` on the PATH. Starts one
// redis-server, one emulator and one process per app; the load generator is this process.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { completedLogins, loginLoop, loginOnce, waitReady } from './lib/flows.mjs';
import { createAgent, request } from './lib/http.mjs';
import { cpuMs, spawnAndWait, startRedis, stopChild } from './lib/procs.mjs';
import { fmt, median, percentile } from './lib/stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOGIN_CONCURRENCY = 32;
const ME_CONNECTIONS = 64;
const KAKAO_BURST = 200;
const MEMORY_TARGET_BYTES = 1536;

function parseArgs(argv) {
  const o = {
    rounds: 5,
    loginSeconds: 4,
    meSeconds: 4,
    warmupSeconds: 2,
    memoryUsers: 500,
    profile: false,
    quick: false,
    phases: new Set(['login', 'me', 'kakao', 'memory']),
  };
  const number = (flag, value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number (got "${value}")`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') {
      Object.assign(o, {
        quick: true,
        rounds: 2,
        loginSeconds: 2,
        meSeconds: 2,
        warmupSeconds: 1,
        memoryUsers: 200,
      });
    } else if (arg === '--profile') o.profile = true;
    else if (arg === '--rounds') o.rounds = Math.round(number(arg, argv[++i]));
    else if (arg === '--login-seconds') o.loginSeconds = number(arg, argv[++i]);
    else if (arg === '--me-seconds') o.meSeconds = number(arg, argv[++i]);
    else if (arg === '--memory-users') o.memoryUsers = Math.round(number(arg, argv[++i]));
    else if (arg === '--phases') {
      o.phases = new Set(String(argv[++i] ?? '').split(','));
      const unknown = [...o.phases].filter((p) => !['login', 'me', 'kakao', 'memory'].includes(p));
      if (unknown.length > 0 || o.phases.size === 0)
        throw new Error('--phases takes a list of login,me,kakao,memory');
    } else if (arg === '--help' || arg === '-h') {
      console.log(
        'usage: node bench/run.mjs [--quick] [--rounds N] [--login-seconds S] [--me-seconds S] [--memory-users N] [--phases login,me,kakao,memory] [--profile]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return o;
}

const log = (line) => console.error(line);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const built of ['dist/testing/index.js', 'example-app/build/server.js']) {
    if (!existsSync(path.join(ROOT, built)))
      throw new Error(`${built} is missing: run \`npm run build\` first`);
  }
  const t0 = performance.now();
  const profDir = path.join(ROOT, '.tmp', 'bench-prof');
  if (opts.profile) mkdirSync(profDir, { recursive: true });

  const redis = await startRedis();
  log(`redis-server on ${redis.url}`);
  // The emulator's control API needs its token; it goes to the child through the environment, never a log.
  const controlToken = randomBytes(32).toString('base64url');
  const emu = await spawnAndWait('emulator', process.execPath, [path.join(ROOT, 'bench/emulator.cjs')], {
    env: { ...process.env, BENCH_USERS: '2000', BENCH_EMULATOR_TOKEN: controlToken },
    pattern: /^emulator (\{.*\})$/,
  });
  const emulator = { ...JSON.parse(emu.match[1]), controlToken };
  log(`emulator on ${emulator.url} with ${emulator.users} users`);

  const secret = randomBytes(32).toString('base64url');
  const common = {
    ...process.env,
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    SESSION_SECRET: secret,
    KAKAO_CLIENT_ID: emulator.clientID,
    KAKAO_AUTH_ORIGIN: emulator.url,
    KAKAO_API_ORIGIN: emulator.url,
  };
  const definitions = [
    {
      key: 'a',
      kind: 'kle',
      label: '(a) kakao-login-express example app',
      script: 'example-app/build/server.js',
      env: {
        ...common,
        TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        LOGIN_RATE_LIMIT_PER_MINUTE: '0',
      },
    },
    {
      key: 'b',
      kind: 'incumbent',
      label: '(b) passport-kakao 1.0.1',
      script: 'bench/apps/incumbent.cjs',
      env: common,
    },
    {
      key: 'c',
      kind: 'bare',
      label: '(c) bare session + passport',
      script: 'bench/apps/bare.cjs',
      env: common,
    },
  ];
  const apps = [];
  for (const d of definitions) {
    const nodeArgs = opts.profile
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${profDir}`,
          `--cpu-prof-name=${d.key}-${d.kind}-${Date.now()}.cpuprofile`,
        ]
      : [];
    const started = await spawnAndWait(d.label, process.execPath, [...nodeArgs, path.join(ROOT, d.script)], {
      env: d.env,
      pattern: /listening on (http:\/\/\S+)/,
    });
    const app = { ...d, url: started.match[1], child: started.child };
    await waitReady(app);
    apps.push(app);
    log(`${d.label} on ${started.match[1]}`);
  }

  // Users 0..n-2 take turns in the login flows; the last one is kept for /me/kakao.
  let nextIndex = 0;
  const nextUser = () => String(emulator.firstUserId + (nextIndex++ % (emulator.users - 1)));
  const kakaoUser = String(emulator.firstUserId + emulator.users - 1);
  const reportError = (app) => (err) => log(`  ${app.key}: first login error: ${err.message}`);

  const { phases } = opts;
  // CPU time of every process, so that costs per login / per request can be compared even when the
  // machine is busy (throughput on a shared machine is noisy, CPU time per operation much less so).
  const cpu = (app) => {
    const { user, system } = process.cpuUsage();
    return {
      app: cpuMs(app.child.pid),
      emulator: cpuMs(emu.child.pid),
      redis: cpuMs(redis.pid),
      driver: (user + system) / 1000,
    };
  };
  const cpuPer = (before, after, n, scale = 1) =>
    Object.fromEntries(
      Object.keys(before).map((k) => [k, n > 0 ? ((after[k] - before[k]) * scale) / n : NaN]),
    );
  const skipped = { perSecond: NaN, durations: [], errors: 0, logins: 0 };
  const skippedMe = { rps: NaN, p50: NaN, p99: NaN, bad: 0, total: 0 };
  // Sanity check and JIT warm-up, not recorded.
  for (const app of apps) {
    const agent = createAgent(4);
    await loginOnce(app, nextUser(), agent);
    agent.destroy();
    if (phases.has('login') || phases.has('memory')) {
      await loginLoop(app, {
        concurrency: LOGIN_CONCURRENCY,
        seconds: opts.warmupSeconds,
        nextUser,
        firstError: reportError(app),
      });
    }
    if (phases.has('me')) await measureMe(app, opts.warmupSeconds, nextUser());
  }

  const rounds = [];
  for (let r = 0; r < opts.rounds; r++) {
    const round = {};
    // Rotate the order so that no app is always first (or always right after the same neighbour).
    const order = apps.map((_, i) => apps[(i + r) % apps.length]);
    for (const app of order) {
      const cpu0 = cpu(app);
      const login = phases.has('login')
        ? await loginLoop(app, {
            concurrency: LOGIN_CONCURRENCY,
            seconds: opts.loginSeconds,
            nextUser,
            firstError: reportError(app),
          })
        : skipped;
      const cpu1 = cpu(app);
      const me = phases.has('me') ? await measureMe(app, opts.meSeconds, nextUser()) : skippedMe;
      const cpu2 = cpu(app);
      round[app.key] = {
        loginsPerSecond: login.perSecond,
        loginP50: percentile(login.durations, 50),
        loginP99: percentile(login.durations, 99),
        logins: login.logins,
        loginErrors: login.errors,
        meRps: me.rps,
        meP50: me.p50,
        meP99: me.p99,
        meBad: me.bad,
        // ms of CPU per login, µs of CPU per GET /me
        loginCpu: cpuPer(cpu0, cpu1, login.logins),
        meCpu: cpuPer(cpu1, cpu2, me.total, 1000),
      };
      log(
        `round ${r + 1}/${opts.rounds} ${app.key}: ${fmt(login.perSecond)} logins/s (p50 ${fmt(round[app.key].loginP50, 1)} ms, p99 ${fmt(round[app.key].loginP99, 1)} ms, ${login.errors} errors); GET /me ${fmt(me.rps)} req/s (p99 ${fmt(me.p99)} ms${me.bad ? `, ${me.bad} bad` : ''})`,
      );
    }
    if (phases.has('kakao')) {
      round.kakao = await measureKakao(apps[0], emulator, kakaoUser);
      log(
        `round ${r + 1}/${opts.rounds} a: /me/kakao valid p99 ${fmt(round.kakao.valid.p99, 1)} ms, expired p99 ${fmt(round.kakao.expired.p99, 1)} ms, refresh calls ${round.kakao.expired.refreshes}`,
      );
    }
    rounds.push(round);
  }

  const memory = {};
  if (phases.has('memory')) {
    for (const app of apps) {
      // The same users for every app and run (sizes depend on, e.g., the nickname's length).
      let i = 0;
      const memoryUser = () => String(emulator.firstUserId + 1000 + (i++ % (emulator.users - 1001)));
      memory[app.key] = await measureMemory(app, redis.client, opts.memoryUsers, memoryUser);
      log(
        `memory ${app.key}: ${fmt(memory[app.key].usedPerUser)} B/user (used_memory), ${fmt(memory[app.key].keyBytesPerUser)} B/user (MEMORY USAGE), ${fmt(memory[app.key].keysPerUser, 2)} keys/user`,
      );
    }
  }

  for (const app of apps) await stopChild(app.child);
  await emu.stop();
  redis.client.disconnect();
  await redis.stop();

  const seconds = (performance.now() - t0) / 1000;
  const markdown = report({ opts, rounds, memory, apps, seconds });
  console.log(markdown);
  writeFileSync(path.join(ROOT, 'bench', 'results.md'), markdown);
  log(`written to bench/results.md (${fmt(seconds)} s)`);
  if (opts.profile) {
    log(
      `CPU profiles in ${profDir}; summarise with node bench/profile-summary.mjs <file> --per <operations>:`,
    );
    for (const app of apps) {
      log(
        `  ${app.key}: ${completedLogins.get(app.url) ?? 0} logins, ${app.meRequests ?? 0} authenticated GET /me`,
      );
    }
  }
}

/** Authenticated GET /me with autocannon, for a freshly logged-in user. */
async function measureMe(app, seconds, userId) {
  const agent = createAgent(2);
  const jar = await loginOnce(app, userId, agent);
  agent.destroy();
  const result = await autocannon({
    url: `${app.url}/me`,
    connections: ME_CONNECTIONS,
    duration: seconds,
    headers: { cookie: jar.header(app.url) },
  });
  app.meRequests = (app.meRequests ?? 0) + result.requests.total;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bad: result.non2xx + result.errors + result.timeouts,
    total: result.requests.total,
  };
}

async function control(emulator, agent, method, route, body) {
  const res = await request(`${emulator.url}/_emulator/${route}`, {
    method,
    agent,
    headers: {
      'x-emulator-token': emulator.controlToken,
      ...(method === 'POST' && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`emulator control ${method} ${route}: ${res.status} ${res.body}`);
  return res.body ? JSON.parse(res.body) : undefined;
}

async function burst(app, cookie, agent) {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: KAKAO_BURST }, async () => {
      const begin = performance.now();
      const res = await request(`${app.url}/me/kakao`, { agent, headers: { cookie } });
      return { ms: performance.now() - begin, status: res.status };
    }),
  );
  const durations = results.map((r) => r.ms);
  return {
    p50: percentile(durations, 50),
    p99: percentile(durations, 99),
    max: Math.max(...durations),
    wallMs: performance.now() - started,
    non200: results.filter((r) => r.status !== 200).length,
  };
}

/** GET /me/kakao for one user: 200 concurrent with a valid token, then 200 concurrent after Kakao expired it. */
async function measureKakao(app, emulator, userId) {
  const agent = createAgent(KAKAO_BURST + 8);
  const jar = await loginOnce(app, userId, agent);
  const cookie = jar.header(app.url);
  const countCalls = async () => {
    const requests = await control(emulator, agent, 'GET', 'requests');
    return {
      refreshes: requests.filter((r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token')
        .length,
      userMe: requests.filter((r) => r.endpoint === 'user_me').length,
    };
  };
  // Opens the connections, so that both measured bursts run on warm sockets.
  await burst(app, cookie, agent);
  await control(emulator, agent, 'POST', 'reset-requests', {});
  const valid = { ...(await burst(app, cookie, agent)), ...(await countCalls()) };
  await control(emulator, agent, 'POST', 'expire-access-tokens', { userId });
  await control(emulator, agent, 'POST', 'reset-requests', {});
  const expired = { ...(await burst(app, cookie, agent)), ...(await countCalls()) };
  agent.destroy();
  return { valid, expired };
}

async function usedMemory(client) {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

async function allKeys(client) {
  const keys = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** A key's family: the id parts replaced, e.g. `kle:tok:{6100000001}:abc` → `kle:tok:{…}:…`. */
function keyKind(key) {
  return key
    .replace(/\{[^}]*\}/g, '{…}')
    .replace(/:[A-Za-z0-9_-]{16,}$/, ':…')
    .replace(/:\d+$/, ':…');
}

/** Logs in `n` returning users on an empty Redis and measures what they occupy. */
async function measureMemory(app, client, n, nextUser) {
  const users = Array.from({ length: n }, () => nextUser());
  const loginAll = async () => {
    const agent = createAgent(16);
    const queue = [...users];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await loginOnce(app, id, agent);
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    agent.destroy();
  };
  // Returning users, the steady state: Kakao's answers for a user who has agreed before are larger
  // than for a first login, and so are the session and the token record.
  await loginAll();
  await client.flushall();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = await usedMemory(client);
  await loginAll();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const after = await usedMemory(client);
  const keys = await allKeys(client);
  const kinds = new Map();
  let keyBytes = 0;
  for (const key of keys) {
    const bytes = Number(await client.memory('USAGE', key, 'SAMPLES', '0'));
    keyBytes += bytes;
    const kind = keyKind(key);
    const entry = kinds.get(kind) ?? { count: 0, bytes: 0, length: 0, sample: undefined };
    entry.count++;
    entry.bytes += bytes;
    // String length, or the number of members of a set: what the key holds, before Redis overhead.
    entry.length += Number(await client.call('STRLEN', key).catch(() => client.scard(key)));
    kinds.set(kind, entry);
  }
  return {
    users: n,
    usedPerUser: (after - before) / n,
    keyBytesPerUser: keyBytes / n,
    keysPerUser: keys.length / n,
    kinds: [...kinds].map(([kind, e]) => ({
      kind,
      count: e.count,
      meanBytes: e.bytes / e.count,
      meanLength: e.length / e.count,
    })),
  };
}

function report({ opts, rounds, memory, apps, seconds }) {
  const m = (key, field) =>
    median(rounds.map((r) => (typeof field === 'function' ? field(r[key]) : r[key][field])));
  const ratio = (x, y) => (Number.isFinite(x) && Number.isFinite(y) && y !== 0 ? x / y : NaN);
  const row = (label, field, digits, target = '') => {
    const [a, b, c] = ['a', 'b', 'c'].map((k) => m(k, field));
    return `| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(c, digits)} | ${fmt(ratio(a, b), 2)} | ${fmt(ratio(a, c), 2)} | ${target} |`;
  };
  const memRow = (label, field, digits, target = '') => {
    const [a, b, c] = ['a', 'b', 'c'].map((k) => memory[k]?.[field] ?? NaN);
    return `| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(c, digits)} | ${fmt(ratio(a, b), 2)} | ${fmt(ratio(a, c), 2)} | ${target} |`;
  };
  const target = (text, value, ok) =>
    `${text}: ${Number.isFinite(value) ? (ok(value) ? 'met' : 'missed') : 'not measured'}`;
  const loginRatio = ratio(m('a', 'loginsPerSecond'), m('b', 'loginsPerSecond'));
  const meRatio = ratio(m('a', 'meRps'), m('c', 'meRps'));
  const memA = memory.a?.usedPerUser ?? NaN;
  const refreshCounts = rounds.map((r) => r.kakao?.expired.refreshes ?? NaN);
  const errors = ['a', 'b', 'c'].map((k) => rounds.reduce((s, r) => s + r[k].loginErrors + r[k].meBad, 0));
  const kv = (k, field) => median(rounds.map((r) => r.kakao?.[k][field] ?? NaN));
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const cpu = os.cpus();
  const lines = [
    '## Benchmark results',
    '',
    `Command: \`${command}\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${os.platform()} ${os.release()}.`,
    `${opts.rounds} rounds interleaving the apps (login flow ${opts.loginSeconds} s, GET /me ${opts.meSeconds} s per app and round); medians over rounds; ratios of medians from this run.`,
    'Every app runs in its own process against one redis-server and one Kakao emulator process (auto-approve, no consent page); the load generator is a separate process on the same machine.',
    '',
    '| metric | (a) kakao-login-express | (b) passport-kakao 1.0.1 | (c) bare session | a/b | a/c | target |',
    '|---|---:|---:|---:|---:|---:|---|',
    row(
      `login flow, logins/s (concurrency ${LOGIN_CONCURRENCY})`,
      'loginsPerSecond',
      0,
      target('a/b ≥ 1.0', loginRatio, (v) => v >= 1),
    ),
    row('login flow p50, ms', 'loginP50', 1),
    row('login flow p99, ms', 'loginP99', 1),
    row(
      `GET /me, req/s (${ME_CONNECTIONS} connections)`,
      'meRps',
      0,
      target('a/c ≥ 0.9', meRatio, (v) => v >= 0.9),
    ),
    row('GET /me p50, ms', 'meP50', 1),
    row('GET /me p99, ms', 'meP99', 1),
    row('CPU per login: app process, ms', (x) => x.loginCpu.app, 2),
    row('CPU per login: emulator, ms', (x) => x.loginCpu.emulator, 2),
    row('CPU per login: redis-server, ms', (x) => x.loginCpu.redis, 2),
    row('CPU per login: load generator, ms', (x) => x.loginCpu.driver, 2),
    row('CPU per GET /me: app process, µs', (x) => x.meCpu.app, 0),
    row('CPU per GET /me: redis-server, µs', (x) => x.meCpu.redis, 0),
    memRow(
      'Redis per logged-in user, bytes (used_memory Δ)',
      'usedPerUser',
      0,
      target(`a ≤ ${MEMORY_TARGET_BYTES}`, memA, (v) => v <= MEMORY_TARGET_BYTES),
    ),
    memRow('Redis per logged-in user, bytes (Σ MEMORY USAGE of keys)', 'keyBytesPerUser', 0),
    memRow('Redis keys per logged-in user', 'keysPerUser', 2),
    '',
    `Login-flow and GET /me errors (non-2xx, socket errors, timeouts), all rounds: a ${errors[0]}, b ${errors[1]}, c ${errors[2]}.`,
    `Memory: ${memory.a?.users ?? 0} returning users logged in per app on an emptied Redis. Keys by family: ${apps
      .map(
        (app) =>
          `${app.key}: ${(memory[app.key]?.kinds ?? []).map((k) => `\`${k.kind}\` ×${k.count} ≈ ${fmt(k.meanBytes)} B (value ${fmt(k.meanLength)})`).join(', ')}`,
      )
      .join('; ')}.`,
    '',
    `### GET /me/kakao, one user, ${KAKAO_BURST} concurrent requests (app a)`,
    '',
    '| token | p50, ms | p99, ms | max, ms | non-200 | Kakao user/me calls | Kakao refresh calls |',
    '|---|---:|---:|---:|---:|---:|---|',
    `| valid | ${fmt(kv('valid', 'p50'), 1)} | ${fmt(kv('valid', 'p99'), 1)} | ${fmt(kv('valid', 'max'), 1)} | ${fmt(kv('valid', 'non200'))} | ${fmt(kv('valid', 'userMe'))} | ${rounds.map((r) => r.kakao?.valid.refreshes ?? '–').join(', ')} |`,
    `| expired at Kakao | ${fmt(kv('expired', 'p50'), 1)} | ${fmt(kv('expired', 'p99'), 1)} | ${fmt(kv('expired', 'max'), 1)} | ${fmt(kv('expired', 'non200'))} | ${fmt(kv('expired', 'userMe'))} | ${refreshCounts.join(', ')} (must be 1 each: ${rounds.some((r) => r.kakao) ? (refreshCounts.every((c) => c === 1) ? 'met' : 'missed') : 'not measured'}) |`,
    '',
    '<details><summary>Per round</summary>',
    '',
    '| round | app | logins/s | login p50 / p99, ms | GET /me req/s | GET /me p99, ms |',
    '|---:|---|---:|---|---:|---:|',
    ...rounds.flatMap((r, i) =>
      ['a', 'b', 'c'].map(
        (k) =>
          `| ${i + 1} | ${k} | ${fmt(r[k].loginsPerSecond)} | ${fmt(r[k].loginP50, 1)} / ${fmt(r[k].loginP99, 1)} | ${fmt(r[k].meRps)} | ${fmt(r[k].meP99)} |`,
      ),
    ),
    '',
    '</details>',
    '',
    `Total time ${fmt(seconds)} s.`,
    '',
  ];
  return lines.join('\n');
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
