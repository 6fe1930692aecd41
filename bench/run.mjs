/* global process, console */
// Benchmark: kakao-login-express's example app (a) against passport-kakao 1.0.1 (b) and a bare
// express-session + connect-redis + passport.session() app (c), all measured in the same run.
//
//   npm run bench                      # default: 5 interleaved rounds, about 3½ minutes (build included)
//   npm run bench -- --quick           # 2 short rounds, small samples, under a minute (indicative only)
//   npm run bench -- --rounds 9 --login-seconds 8 --me-seconds 10
//   npm run bench -- --phases login,me,trace   # a subset of login,me,kakao,trace,abandon,memory
//   npm run bench -- --profile         # also write CPU profiles of the three apps to .tmp/bench-prof/
//
// Needs the built library and example app (`npm run build`) and `redis-server` on the PATH. Starts one
// redis-server, one emulator and one process per app; the load generator is this process. Nothing but
// these processes knows the redis-server's port, and the apps take turns (never two phases at once), so
// the server's counters around a phase belong to the app measured in it; every phase checks that.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { abandonStarts, completedLogins, loginLoop, loginOnce, waitReady } from './lib/flows.mjs';
import { createAgent, get, request } from './lib/http.mjs';
import { describeKeys } from './lib/keys.mjs';
import { cpuMs, freePort, spawnAndWait, startRedis, stopChild } from './lib/procs.mjs';
import { clientList, diff, settle, snapshot } from './lib/redis-stats.mjs';
import { report } from './lib/report.mjs';
import { fmt, percentile } from './lib/stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOOP_RESOLUTION_MS = 5;
const PHASES = ['login', 'me', 'kakao', 'trace', 'abandon', 'memory'];
const SETTINGS = Object.freeze({
  loginConcurrency: 32,
  meConnections: 64,
  kakaoBurst: 200,
  abandonConcurrency: 16,
  memoryConcurrency: 8,
  // The same consent items for every OAuth app, so that Kakao's answers (and so sessions and token
  // records) are the same size. Without `scope` Kakao asks for every item set up in the console.
  scopes: 'profile_nickname,profile_image',
});

function parseArgs(argv) {
  const o = {
    rounds: 5,
    loginSeconds: 4,
    meSeconds: 4,
    warmupSeconds: 2,
    memoryUsers: 1000,
    abandoned: 1000,
    traceLogins: 10,
    profile: false,
    quick: false,
    baselinePipelining: true,
    phases: new Set(PHASES),
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
        abandoned: 200,
        traceLogins: 3,
      });
    } else if (arg === '--profile') o.profile = true;
    else if (arg === '--no-baseline-pipelining') o.baselinePipelining = false;
    else if (arg === '--rounds') o.rounds = Math.round(number(arg, argv[++i]));
    else if (arg === '--login-seconds') o.loginSeconds = number(arg, argv[++i]);
    else if (arg === '--me-seconds') o.meSeconds = number(arg, argv[++i]);
    else if (arg === '--memory-users') o.memoryUsers = Math.round(number(arg, argv[++i]));
    else if (arg === '--abandoned') o.abandoned = Math.round(number(arg, argv[++i]));
    else if (arg === '--trace-logins') o.traceLogins = Math.round(number(arg, argv[++i]));
    else if (arg === '--phases') {
      o.phases = new Set(String(argv[++i] ?? '').split(','));
      const unknown = [...o.phases].filter((p) => !PHASES.includes(p));
      if (unknown.length > 0 || o.phases.size === 0)
        throw new Error(`--phases takes a list of ${PHASES.join(',')}`);
    } else if (arg === '--help' || arg === '-h') {
      console.log(
        `usage: node bench/run.mjs [--quick] [--rounds N] [--login-seconds S] [--me-seconds S] [--memory-users N] [--abandoned N] [--trace-logins N] [--phases ${PHASES.join(',')}] [--no-baseline-pipelining] [--profile]`,
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return o;
}

const startedAt = performance.now();
const log = (line) =>
  console.error(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(3)} s] ${line}`);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const built of ['dist/testing/index.js', 'example-app/build/server.js']) {
    if (!existsSync(path.join(ROOT, built)))
      throw new Error(`${built} is missing: run \`npm run build\` first`);
  }
  const t0 = performance.now();
  const profDir = path.join(ROOT, '.tmp', 'bench-prof');
  if (opts.profile) mkdirSync(profDir, { recursive: true });
  const { phases } = opts;

  const redis = await startRedis();
  const benchClientId = String(await redis.client.call('CLIENT', 'ID'));
  log(`redis-server on ${redis.url}`);
  const users = Math.max(2000, opts.memoryUsers + 2);
  // The emulator's control API needs its token; it goes to the child through the environment, never a log.
  const controlToken = randomBytes(32).toString('base64url');
  const emu = await spawnAndWait('emulator', process.execPath, [path.join(ROOT, 'bench/emulator.cjs')], {
    env: { ...process.env, BENCH_USERS: String(users), BENCH_EMULATOR_TOKEN: controlToken },
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
    KAKAO_SCOPES: SETTINGS.scopes,
    // (b) and (c) auto-pipeline like (a)'s client unless --no-baseline-pipelining (see bench/apps).
    BENCH_AUTO_PIPELINING: opts.baselinePipelining ? '1' : '0',
  };
  const klePort = await freePort();
  const definitions = [
    {
      key: 'a',
      kind: 'kle',
      label: '(a) kakao-login-express example app',
      script: 'example-app/build/server.js',
      env: {
        ...common,
        TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        // The registered redirect URI is used verbatim: it names the host the bench talks to.
        PORT: String(klePort),
        KAKAO_CALLBACK_URL: `http://127.0.0.1:${klePort}/auth/kakao/callback`,
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

  // Which Redis connection belongs to which app: the connections that appear while it starts.
  const owners = new Map();
  const knownAddrs = async () => new Set((await clientList(redis.client)).map((c) => c.addr));
  const apps = [];
  for (const d of definitions) {
    const before = await knownAddrs();
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
    for (let i = 0; i < 40; i++) {
      const added = [...(await knownAddrs())].filter((a) => !before.has(a));
      if (added.length > 0) {
        for (const addr of added) owners.set(addr, d.key);
        break;
      }
      await settle(50);
    }
    apps.push(app);
    log(`${d.label} on ${started.match[1]}`);
  }

  /** Problems found by the attribution check: another client talked to Redis during a phase. */
  const attribution = [];
  const checkQuiet = async (app, phaseName, seconds) => {
    for (const c of await clientList(redis.client)) {
      if (c.id === benchClientId) continue;
      const owner = owners.get(c.addr);
      if (owner === undefined) attribution.push(`${phaseName}: unknown Redis client ${c.addr} (${c.cmd})`);
      else if (owner !== app.key && Number(c.idle) < Math.floor(seconds) - 1)
        attribution.push(`${phaseName}: app ${owner} sent \`${c.cmd}\` ${c.idle} s ago`);
    }
  };

  // Users 0..n-2 take turns in the login flows; the last one is kept for /me/kakao.
  let nextIndex = 0;
  const nextUser = () => String(emulator.firstUserId + (nextIndex++ % (emulator.users - 1)));
  const kakaoUser = String(emulator.firstUserId + emulator.users - 1);
  const reportError = (app) => (err) => log(`  ${app.key}: first login error: ${err.message}`);

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
  const cpuDelta = (before, after) =>
    Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]));

  /**
   * Runs `fn` as one measured phase of `app`: CPU of every process, the load generator's event-loop
   * delay, and the redis-server's counters, read after a short pause so that late commands are counted.
   */
  const measured = async (app, name, fn) => {
    await settle(100);
    const cpu0 = cpu(app);
    const redis0 = await snapshot(redis.client);
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    const begin = performance.now();
    const result = await fn();
    const wallMs = performance.now() - begin;
    loop.disable();
    await settle(100);
    const redis1 = await snapshot(redis.client);
    const cpu1 = cpu(app);
    await checkQuiet(app, name, wallMs / 1000);
    return {
      result,
      wallMs,
      cpu: cpuDelta(cpu0, cpu1),
      redis: diff(redis0, redis1),
      // The histogram holds whole timer intervals: the lag is what exceeds the resolution.
      loopDelayP99Ms: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
    };
  };

  // Sanity check and JIT warm-up, not recorded.
  for (const app of apps) {
    const agent = createAgent(4);
    await loginOnce(app, nextUser(), agent);
    agent.destroy();
    await loginLoop(app, {
      concurrency: SETTINGS.loginConcurrency,
      seconds: opts.warmupSeconds,
      nextUser,
      firstError: reportError(app),
    });
    if (phases.has('me')) await measureMe(app, opts.warmupSeconds, nextUser());
  }

  const rounds = [];
  for (let r = 0; r < opts.rounds; r++) {
    const round = {};
    // Rotate the order so that no app is always first (or always right after the same neighbour).
    const order = apps.map((_, i) => apps[(i + r) % apps.length]);
    for (const app of order) round[app.key] = {};
    // All apps' login phases back to back, then all apps' GET /me phases: the two numbers of a ratio
    // are measured seconds apart, so the machine's drift (other work on shared cores) mostly cancels.
    if (phases.has('login')) {
      for (const app of order) {
        const m = await measured(app, `round ${r + 1} ${app.key} login`, () =>
          loginLoop(app, {
            concurrency: SETTINGS.loginConcurrency,
            seconds: opts.loginSeconds,
            nextUser,
            firstError: reportError(app),
          }),
        );
        const login = m.result;
        const entry = Object.assign(round[app.key], {
          loginsPerSecond: login.perSecond,
          loginP50: percentile(login.durations, 50),
          loginP99: percentile(login.durations, 99),
          logins: login.logins,
          loginErrors: login.errors,
          // ms of CPU per login; share of one core during the phase
          loginCpu: per(m.cpu, login.logins),
          loginBusy: per(m.cpu, m.wallMs),
          loginRedis: m.redis,
          loginLoopDelay: m.loopDelayP99Ms,
        });
        log(
          `round ${r + 1}/${opts.rounds} ${app.key}: ${fmt(entry.loginsPerSecond)} logins/s (p50 ${fmt(entry.loginP50, 1)} ms, p99 ${fmt(entry.loginP99, 1)} ms, ${entry.loginErrors} errors, ${fmt(entry.loginRedis.total / entry.logins, 2)} Redis commands/login, app ${fmt(entry.loginBusy.app * 100)} % of a core)`,
        );
      }
    }
    if (phases.has('me')) {
      for (const app of order) {
        const jar = await loginForMe(app, nextUser());
        const m = await measured(app, `round ${r + 1} ${app.key} GET /me`, () =>
          measureMe(app, opts.meSeconds, undefined, jar),
        );
        const me = m.result;
        const entry = Object.assign(round[app.key], {
          meRps: me.rps,
          meP50: me.p50,
          meP99: me.p99,
          meRequests: me.sent,
          meBad: me.bad,
          meBadDetail: me.badDetail,
          // µs of CPU per GET /me
          meCpu: per(m.cpu, me.sent / 1000),
          meBusy: per(m.cpu, m.wallMs),
          meRedis: m.redis,
          meLoopDelay: m.loopDelayP99Ms,
        });
        log(
          `round ${r + 1}/${opts.rounds} ${app.key}: GET /me ${fmt(entry.meRps)} req/s (p99 ${fmt(entry.meP99)} ms${entry.meBad ? `, ${entry.meBad} bad` : ''}, ${fmt(entry.meRedis.total / entry.meRequests, 2)} commands/req, app ${fmt(entry.meBusy.app * 100)} % of a core)`,
        );
      }
    }
    if (phases.has('kakao')) {
      round.kakao = await measureKakao(apps[0], emulator, kakaoUser);
      log(
        `round ${r + 1}/${opts.rounds} a: /me/kakao valid p99 ${fmt(round.kakao.valid.p99, 1)} ms, expired p99 ${fmt(round.kakao.expired.p99, 1)} ms, refresh calls ${round.kakao.expired.refreshes}`,
      );
    }
    rounds.push(round);
  }

  // One login at a time, with the counters read after every step: commands and round trips per step.
  const trace = {};
  if (phases.has('trace')) {
    for (const app of apps) {
      trace[app.key] = await traceLogins(app, redis.client, opts.traceLogins, nextUser);
      await checkQuiet(app, `trace ${app.key}`, 0);
      log(
        `trace ${app.key}: ${Object.entries(trace[app.key].steps)
          .map(([step, s]) => `${step} ${fmt(s.total, 1)} commands / ${fmt(s.reads, 1)} round trips`)
          .join(', ')}`,
      );
    }
  }

  // Abandoned login starts on an emptied Redis, then one normal login from the same address.
  const abandoned = {};
  if (phases.has('abandon')) {
    for (const app of apps.filter((a) => a.kind !== 'bare')) {
      await redis.client.flushall();
      const m = await measured(app, `abandon ${app.key}`, () =>
        abandonStarts(app, { n: opts.abandoned, concurrency: SETTINGS.abandonConcurrency }),
      );
      const keys = await describeKeys(redis.client);
      let after;
      const agent = createAgent(2);
      try {
        await loginOnce(app, nextUser(), agent);
        after = { ok: true };
      } catch (err) {
        after = { ok: false, error: err.message.slice(0, 120) };
      }
      agent.destroy();
      abandoned[app.key] = { ...m.result, redis: m.redis, keys, after };
      log(
        `abandon ${app.key}: ${opts.abandoned} starts → ${JSON.stringify(m.result.statuses)}, ${keys.count} keys, used_memory Δ ${m.redis.usedMemory} B, ${m.redis.total} commands; login right after: ${after.ok ? 'ok' : after.error}`,
      );
    }
  }

  const memory = {};
  if (phases.has('memory')) {
    for (const app of apps) {
      // The same users for every app and run (sizes depend on, e.g., the nickname's length).
      memory[app.key] = await measureMemory(app, redis.client, opts.memoryUsers, emulator.firstUserId);
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
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const markdown = report({
    opts,
    settings: SETTINGS,
    rounds,
    trace,
    abandoned,
    memory,
    attribution,
    seconds,
    command,
  });
  console.log(markdown);
  writeFileSync(path.join(ROOT, 'bench', 'results.md'), markdown);
  log(`written to bench/results.md (${fmt(seconds)} s)`);
  if (attribution.length > 0) log(`attribution problems:\n  ${attribution.join('\n  ')}`);
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

/** Every field of `values` divided by `n` (NaN when nothing was done). */
function per(values, n) {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, n > 0 ? v / n : NaN]));
}

async function loginForMe(app, userId) {
  const agent = createAgent(2);
  const jar = await loginOnce(app, userId, agent);
  agent.destroy();
  return jar;
}

/** Authenticated GET /me with autocannon, for a freshly logged-in user (or the given jar's). */
async function measureMe(app, seconds, userId, jar) {
  jar ??= await loginForMe(app, userId);
  const result = await autocannon({
    url: `${app.url}/me`,
    connections: SETTINGS.meConnections,
    duration: seconds,
    headers: { cookie: jar.header(`${app.url}/me`) },
  });
  app.meRequests = (app.meRequests ?? 0) + result.requests.sent;
  const bad = result.non2xx + result.errors + result.timeouts + result.mismatches;
  return {
    // Successful answers only; autocannon's own per-second average would count errors too.
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bad,
    badDetail: bad
      ? `non-2xx ${result.non2xx}, socket errors ${result.errors}, timeouts ${result.timeouts}`
      : '',
    // Requests sent, including those in flight when autocannon stopped (the app still serves them).
    sent: result.requests.sent,
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
    Array.from({ length: SETTINGS.kakaoBurst }, async () => {
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
  const agent = createAgent(SETTINGS.kakaoBurst + 8);
  const jar = await loginOnce(app, userId, agent);
  const cookie = jar.header(`${app.url}/me/kakao`);
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

/**
 * `n` logins of `app`, one at a time on one keep-alive connection (a browser), reading the
 * redis-server's counters after every step. Round trips are the server's read events: a batch of
 * commands the client writes at once (a pipeline, or ioredis auto-pipelining) arrives in one read, and a
 * command sent after waiting for a reply is always a read of its own.
 */
async function traceLogins(app, client, n, nextUser) {
  const agent = createAgent(2);
  const steps = {};
  const samples = [];
  for (let i = 0; i < n; i++) {
    let prev = await snapshot(client);
    const flow = { total: 0, reads: 0 };
    const record = async (step) => {
      await settle(25);
      const now = await snapshot(client);
      const d = diff(prev, now);
      prev = now;
      const s = (steps[step] ??= {
        total: 0,
        reads: 0,
        readsMin: Infinity,
        readsMax: -Infinity,
        commands: {},
      });
      s.total += d.total;
      s.reads += d.reads;
      s.readsMin = Math.min(s.readsMin, d.reads);
      s.readsMax = Math.max(s.readsMax, d.reads);
      for (const [name, calls] of Object.entries(d.commands))
        s.commands[name] = (s.commands[name] ?? 0) + calls;
      return d;
    };
    const jar = await loginOnce(app, nextUser(), agent, {
      afterStep: async (step) => {
        const d = await record(step);
        flow.total += d.total;
        flow.reads += d.reads;
      },
    });
    samples.push(flow);
    // A later authenticated request (the steady state the GET /me load phase measures), not part of the flow.
    const again = await get(`${app.url}/me`, jar, agent);
    if (again.status !== 200) throw new Error(`trace ${app.key}: second GET /me answered ${again.status}`);
    await record('meAgain');
  }
  agent.destroy();
  for (const s of Object.values(steps)) {
    s.total /= n;
    s.reads /= n;
    for (const name of Object.keys(s.commands)) s.commands[name] /= n;
  }
  const reads = samples.map((s) => s.reads);
  return {
    n,
    steps,
    total: samples.reduce((sum, s) => sum + s.total, 0) / n,
    reads: reads.reduce((a, b) => a + b, 0) / n,
    readsMin: Math.min(...reads),
    readsMax: Math.max(...reads),
  };
}

/** Logs in `n` returning users on an emptied Redis and measures what they occupy. */
async function measureMemory(app, client, n, firstUserId) {
  const users = Array.from({ length: n }, (_, i) => String(firstUserId + i));
  const loginAll = async () => {
    const agent = createAgent(SETTINGS.memoryConcurrency * 2);
    const queue = [...users];
    let errors = 0;
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        await loginOnce(app, id, agent).catch(() => errors++);
      }
    };
    await Promise.all(Array.from({ length: SETTINGS.memoryConcurrency }, worker));
    agent.destroy();
    return errors;
  };
  // Returning users, the steady state: Kakao's answers for a user who has agreed before are larger
  // than for a first login, and so are the session and the token record.
  await loginAll();
  await client.flushall();
  await settle(300);
  const before = await snapshot(client);
  const errors = await loginAll();
  await settle(300);
  const after = await snapshot(client);
  const keys = await describeKeys(client);
  return {
    users: n,
    errors,
    usedPerUser: (after.usedMemory - before.usedMemory) / n,
    clientBuffersPerUser: (after.clientBuffers - before.clientBuffers) / n,
    keyBytesPerUser: keys.bytes / n,
    keysPerUser: keys.count / n,
    kinds: keys.kinds,
  };
}

main().catch((err) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
