/* global process */
// The markdown report of a bench run (stdout and bench/results.md).
import os from 'node:os';
import { formatKinds } from './keys.mjs';
import { fmt, median, ratio, ratioStats } from './stats.mjs';

const APPS = ['a', 'b', 'c'];
const MEMORY_TARGET_BYTES = 1024;
const LOGIN_TARGET = 1.2;
const ME_TARGET = 1.0;

const verdict = (value, ok) => (Number.isFinite(value) ? (ok(value) ? 'met' : 'missed') : 'not measured');

/** `12.00: get 3.00, set 2.00` (commands per operation, largest first). */
function breakdown(total, commands, digits = 2) {
  const parts = Object.entries(commands)
    .filter(([, v]) => v !== 0)
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .map(([name, v]) => `${name} ${fmt(v, digits)}`);
  return `${fmt(total, digits)}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/** Σ over rounds of a phase's Redis deltas, divided by Σ operations. */
function redisPer(rounds, key, deltaField, countField) {
  let n = 0;
  let total = 0;
  let failed = 0;
  const commands = {};
  for (const r of rounds) {
    const e = r[key];
    const d = e?.[deltaField];
    if (!d) continue;
    n += e[countField];
    total += d.total;
    failed += d.failed;
    for (const [name, calls] of Object.entries(d.commands)) commands[name] = (commands[name] ?? 0) + calls;
  }
  if (n === 0) return undefined;
  return {
    n,
    total: total / n,
    failed,
    commands: Object.fromEntries(Object.entries(commands).map(([k, v]) => [k, v / n])),
  };
}

export function report({ opts, settings, rounds, trace, abandoned, memory, attribution, seconds, command }) {
  const has = (phase) => opts.phases.has(phase);
  const series = (key, get) => rounds.map((r) => (r[key] ? get(r[key]) : NaN));
  const cell = (s, digits = 2) =>
    Number.isFinite(s.median)
      ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
      : '–';
  const ratioCells = (get) => {
    const [a, b, c] = APPS.map((k) => series(k, get));
    return { ab: ratioStats(a, b), ac: ratioStats(a, c) };
  };
  const row = (label, get, digits, target = '', { vsC = true } = {}) => {
    const [a, b, c] = APPS.map((k) => median(series(k, get)));
    const { ab, ac } = ratioCells(get);
    return `| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(c, digits)} | ${cell(ab)} | ${vsC ? cell(ac) : '–'} | ${target} |`;
  };
  const single = (label, values, digits, target = '', { ratios = true } = {}) => {
    const [a, b, c] = values;
    const [ab, ac] = ratios ? [fmt(ratio(a, b), 2), fmt(ratio(a, c), 2)] : ['–', '–'];
    return `| ${label} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(c, digits)} | ${ab} | ${ac} | ${target} |`;
  };

  const loginRatio = ratioCells((e) => e.loginsPerSecond).ab;
  const meRatio = ratioCells((e) => e.meRps).ac;
  const loginTarget = `a/b ≥ ${LOGIN_TARGET.toFixed(1)}: ${verdict(loginRatio.median, (v) => v >= LOGIN_TARGET)}`;
  const meTarget = `a/c ≥ ${ME_TARGET.toFixed(1)}: ${verdict(meRatio.median, (v) => v >= ME_TARGET)}`;
  const memA = memory.a ? memory.a.usedPerUser - memory.a.clientBuffersPerUser : NaN;
  const cpus = os.cpus();
  const lines = [
    '## Benchmark results',
    '',
    `Command: \`${command}\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${os.platform()} ${os.release()}, total ${fmt(seconds)} s.`,
    `${opts.rounds} rounds interleaving the apps (order rotated every round; in each round the apps' login-flow phases back to back, ${opts.loginSeconds} s each at concurrency ${settings.loginConcurrency}, then their GET /me phases, ${opts.meSeconds} s each on ${settings.meConnections} connections). ` +
      'Per-app figures are medians over rounds; **a/b and a/c are medians of per-round ratios** (each computed from the two apps of the same round), with the range over rounds in brackets.',
    'Every app runs in its own process against one redis-server and one Kakao emulator process (auto-approve, no consent page); the load generator is a separate process on the same machine. ' +
      `Both OAuth apps ask for the same consent items (\`${settings.scopes}\`); ` +
      (opts.baselinePipelining
        ? "(b) and (c) use ioredis with auto-pipelining, as (a)'s client does."
        : "(b) and (c) use ioredis without auto-pipelining (`--no-baseline-pipelining`); (a)'s client auto-pipelines."),
    '',
    '| metric | (a) kakao-login-express | (b) passport-kakao 1.0.1 | (c) bare session | a/b | a/c | target |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  if (has('login')) {
    lines.push(
      row(
        `login flow, logins/s (concurrency ${settings.loginConcurrency})`,
        (e) => e.loginsPerSecond,
        0,
        loginTarget,
      ),
      row('login flow p50, ms', (e) => e.loginP50, 1),
      row('login flow p99, ms', (e) => e.loginP99, 1),
    );
  }
  if (has('me')) {
    lines.push(
      row(`GET /me, req/s (${settings.meConnections} connections)`, (e) => e.meRps, 0, meTarget),
      row('GET /me p50, ms', (e) => e.meP50, 1),
      row('GET /me p99, ms', (e) => e.meP99, 1),
    );
  }
  if (has('login')) {
    lines.push(
      row('CPU per login: app process, ms', (e) => e.loginCpu.app, 2),
      // (c) does not talk to Kakao: its emulator figure is only idle noise.
      row('CPU per login: emulator, ms', (e) => e.loginCpu.emulator, 2, '', { vsC: false }),
      row('CPU per login: redis-server, ms', (e) => e.loginCpu.redis, 2),
      row('CPU per login: load generator, ms', (e) => e.loginCpu.driver, 2),
    );
  }
  if (has('me')) {
    lines.push(
      row('CPU per GET /me: app process, µs', (e) => e.meCpu.app, 0),
      row('CPU per GET /me: redis-server, µs', (e) => e.meCpu.redis, 0),
      row('CPU per GET /me: load generator, µs', (e) => e.meCpu.driver, 0),
    );
  }
  if (has('login')) lines.push(row('Redis commands per login flow', (e) => e.loginRedis.total / e.logins, 2));
  if (has('me')) lines.push(row('Redis commands per GET /me', (e) => e.meRedis.total / e.meRequests, 2));
  if (has('trace')) {
    lines.push(
      single(
        'Redis round trips per login flow (one login alone)',
        APPS.map((k) => trace[k]?.reads ?? NaN),
        1,
      ),
      single(
        'Redis round trips per GET /me (one request alone)',
        APPS.map((k) => trace[k]?.steps.meAgain?.reads ?? NaN),
        1,
      ),
    );
  }
  if (has('memory')) {
    lines.push(
      single(
        'Redis per logged-in user, bytes (used_memory Δ less client buffers)',
        APPS.map((k) => (memory[k] ? memory[k].usedPerUser - memory[k].clientBuffersPerUser : NaN)),
        0,
        `a ≤ ${MEMORY_TARGET_BYTES}: ${verdict(memA, (v) => v <= MEMORY_TARGET_BYTES)}`,
      ),
      single(
        'Redis per logged-in user, bytes (used_memory Δ, raw)',
        APPS.map((k) => memory[k]?.usedPerUser ?? NaN),
        0,
      ),
      single(
        'Redis per logged-in user, bytes (Σ MEMORY USAGE of keys)',
        APPS.map((k) => memory[k]?.keyBytesPerUser ?? NaN),
        0,
      ),
      single(
        'Redis keys per logged-in user',
        APPS.map((k) => memory[k]?.keysPerUser ?? NaN),
        2,
      ),
    );
  }
  if (has('abandon')) {
    const ab = abandoned.a;
    lines.push(
      single(
        `Redis after ${opts.abandoned} abandoned login starts: keys`,
        [ab?.keys.count ?? NaN, abandoned.b?.keys.count ?? NaN, NaN],
        0,
        `a = 0: ${ab ? (ab.keys.count === 0 ? 'met' : 'missed') : 'not measured'}`,
        { ratios: false },
      ),
      single(
        `Redis after ${opts.abandoned} abandoned login starts: Σ MEMORY USAGE, bytes`,
        [ab?.keys.bytes ?? NaN, abandoned.b?.keys.bytes ?? NaN, NaN],
        0,
        `a = 0: ${ab ? (ab.keys.bytes === 0 ? 'met' : 'missed') : 'not measured'}`,
        { ratios: false },
      ),
      single(
        `Redis after ${opts.abandoned} abandoned login starts: used_memory Δ, bytes`,
        [ab?.redis.usedMemory ?? NaN, abandoned.b?.redis.usedMemory ?? NaN, NaN],
        0,
        '(b stores nothing: its Δ is the noise)',
        { ratios: false },
      ),
    );
  }

  // Redis commands by name
  if (has('login') || has('me')) {
    lines.push(
      '',
      '### Redis commands per operation, under load',
      '',
      "From `INFO commandstats` on the bench's redis-server, read before and after each app's phase in every round (the apps take turns, nothing else uses that server; the bench's own `INFO` is subtracted), summed over rounds and divided by completed logins or sent requests. " +
        'A login flow is start → Kakao → callback → one GET /me (the bare app: its synthetic login → GET /me).',
      '',
      '| app | per login flow | per GET /me | failed commands |',
      '|---|---|---|---:|',
      ...APPS.map((k) => {
        const login = redisPer(rounds, k, 'loginRedis', 'logins');
        const me = redisPer(rounds, k, 'meRedis', 'meRequests');
        return `| ${k} | ${login ? breakdown(login.total, login.commands) : '–'} | ${me ? breakdown(me.total, me.commands) : '–'} | ${(login?.failed ?? 0) + (me?.failed ?? 0)} |`;
      }),
    );
  }

  if (has('trace')) {
    const n = trace.a?.n ?? trace.b?.n ?? 0;
    lines.push(
      '',
      `### Redis per step of one login, run alone (${n} logins per app, counters read after every step)`,
      '',
      'Round trips are redis-server read events (`total_reads_processed`): commands a client writes together (a `MULTI`/pipeline, or ioredis auto-pipelining within one tick) arrive in one read; a command written after waiting for a reply is always another read. ' +
        'Independent commands written one by one without waiting can arrive in one read or several, so for such clients this is an upper bound on the latency-bound round trips. min–max over the logins in brackets.',
      '',
      '| app | step | commands | round trips | commands by name |',
      '|---|---|---:|---:|---|',
    );
    const label = {
      start: 'GET /auth/kakao',
      authorize: 'Kakao (emulator)',
      callback: 'callback',
      login: 'GET /login',
      me: 'GET /me (first, ends the flow)',
      meAgain: 'GET /me (a later one, not in the flow)',
    };
    for (const k of APPS) {
      const t = trace[k];
      if (!t) continue;
      const steps = Object.entries(t.steps);
      for (const [step, s] of steps.filter(([name]) => name !== 'meAgain')) {
        if (step === 'authorize' && s.total === 0 && s.reads === 0) continue;
        lines.push(
          `| ${k} | ${label[step] ?? step} | ${fmt(s.total, 1)} | ${fmt(s.reads, 1)} (${s.readsMin}–${s.readsMax}) | ${breakdown(s.total, s.commands, 1).replace(/^[^:]*:? ?/, '') || '–'} |`,
        );
      }
      lines.push(
        `| ${k} | **whole flow** | ${fmt(t.total, 1)} | ${fmt(t.reads, 1)} (${t.readsMin}–${t.readsMax}) | |`,
      );
      const again = t.steps.meAgain;
      if (again) {
        lines.push(
          `| ${k} | ${label.meAgain} | ${fmt(again.total, 1)} | ${fmt(again.reads, 1)} (${again.readsMin}–${again.readsMax}) | ${breakdown(again.total, again.commands, 1).replace(/^[^:]*:? ?/, '') || '–'} |`,
        );
      }
    }
  }

  if (has('abandon')) {
    lines.push(
      '',
      `### Redis after ${opts.abandoned} abandoned login starts`,
      '',
      `\`GET /auth/kakao\` ${opts.abandoned} times from browsers without cookies (${settings.abandonConcurrency} at a time, fetch metadata of a navigation) on an emptied Redis, never finished; then one normal login from the same address. ` +
        'Keys and Σ MEMORY USAGE are exact; `used_memory` also moves with client buffers and the allocator (the incumbent, which stores nothing at the start, shows that noise). (c) has no login start.',
      '',
      '| app | responses | keys created | Σ MEMORY USAGE, B | used_memory Δ, B (less client buffers) | Redis commands per start | cookies set per start (bytes) | login right after | keys |',
      '|---|---|---:|---:|---:|---|---|---|---|',
      ...['a', 'b'].map((k) => {
        const x = abandoned[k];
        if (!x) return `| ${k} | not measured | | | | | | | |`;
        const responses =
          Object.entries(x.statuses)
            .map(([status, count]) => `${status} ×${count}`)
            .join(', ') + (x.errors ? `, socket errors ×${x.errors}` : '');
        const perStart = breakdown(
          x.redis.total / x.n,
          Object.fromEntries(Object.entries(x.redis.commands).map(([c, v]) => [c, v / x.n])),
        );
        return `| ${k} | ${responses} | ${x.keys.count} | ${x.keys.bytes} | ${x.redis.usedMemory} (${x.redis.usedMemory - x.redis.clientBuffers}) | ${perStart} | ${fmt(x.cookiesPerStart, 2)} (${fmt(x.setCookieBytesPerStart)}) | ${x.after.ok ? 'succeeded' : `failed: ${x.after.error}`} | ${formatKinds(x.keys.kinds)} |`;
      }),
    );
  }

  if (has('memory')) {
    const n = memory.a?.users ?? memory.b?.users ?? 0;
    lines.push(
      '',
      `Memory per logged-in user: ${n} returning users logged in per app on an emptied Redis; \`used_memory\` before and after, less the change in \`mem_clients_normal\` (the connections' query and reply buffers: they grow under load and shrink when idle, and move the raw figure by tens of bytes per user at this size); Σ \`MEMORY USAGE … SAMPLES 0\` of every key. ` +
        `Login errors: ${APPS.map((k) => `${k} ${memory[k]?.errors ?? '–'}`).join(', ')}. Keys by family: ` +
        APPS.map((k) => `${k}: ${formatKinds(memory[k]?.kinds ?? [], memory[k]?.users ?? 1)}`).join('; ') +
        '.',
    );
  }

  // Load generator and error checks
  if (has('login') || has('me')) {
    const busy = (k, field, who) => series(k, (e) => e[field]?.[who]).map((v) => v * 100);
    const maxOf = (values) => Math.max(...values.filter(Number.isFinite));
    const minOf = (values) => Math.min(...values.filter(Number.isFinite));
    const phaseLine = (name, busyField, delayField) => {
      const driver = maxOf(APPS.flatMap((k) => busy(k, busyField, 'driver')));
      const delay = maxOf(APPS.flatMap((k) => series(k, (e) => e[delayField])));
      const appBusy = APPS.map(
        (k) =>
          `${k} ${fmt(median(busy(k, busyField, 'app')))} % (min ${fmt(minOf(busy(k, busyField, 'app')))} %)`,
      );
      // A load generator near a full core limits the apps; a long lag with a low share means it
      // waited for a CPU (the machine was busy), which delays every app alike.
      const verdictText =
        driver >= 80
          ? '**the load generator may have limited the apps**'
          : delay >= 50
            ? 'not saturated; its lag came from waiting for a CPU'
            : 'not the bottleneck';
      return `- ${name}: load generator at most ${fmt(driver)} % of one core, event-loop lag p99 at most ${fmt(delay, 1)} ms (${verdictText}); app process median ${appBusy.join(', ')} of one core (Node's GC and I/O threads can take it over 100 %; well under 100 % means the machine was busy).`;
    };
    const errors = APPS.map((k) => {
      const login = rounds.reduce((s, r) => s + (r[k]?.loginErrors ?? 0), 0);
      const me = rounds.reduce((s, r) => s + (r[k]?.meBad ?? 0), 0);
      const detail = rounds.map((r) => r[k]?.meBadDetail).filter(Boolean);
      return `${k} ${login} login / ${me} GET /me${detail.length ? ` (${detail.join('; ')})` : ''}`;
    });
    const busyMedians = APPS.flatMap((k) => [
      ...(has('login') ? [median(busy(k, 'loginBusy', 'app'))] : []),
      ...(has('me') ? [median(busy(k, 'meBusy', 'app'))] : []),
    ]).filter(Number.isFinite);
    const starved = busyMedians.length > 0 && Math.min(...busyMedians) < 75;
    lines.push(
      '',
      '### Checks',
      '',
      ...(starved
        ? [
            `- **The machine was busy**: in some phases the measured app got a median of only ${fmt(Math.min(...busyMedians))} % of a core (other work on the shared cores). Throughput and latency ratios of this run are less reliable than usual; the CPU-per-operation rows and the Redis counts are not affected by that.`,
          ]
        : []),
      ...(has('login') ? [phaseLine('Login flow', 'loginBusy', 'loginLoopDelay')] : []),
      ...(has('me') ? [phaseLine('GET /me', 'meBusy', 'meLoopDelay')] : []),
      `- Errors over all rounds (a login counts once whatever step failed: unexpected status, socket error, timeout, wrong user; GET /me: non-2xx, socket errors, timeouts): ${errors.join(', ')}.`,
      attribution.length === 0
        ? "- Attribution: during every measured phase only the measured app (and the bench's own `INFO`) talked to Redis (checked with `CLIENT LIST` idle times and addresses)."
        : `- **Attribution problems** (figures of these phases include other clients): ${attribution.join('; ')}.`,
    );
  }

  if (has('kakao')) {
    const kv = (k, field) => median(rounds.map((r) => r.kakao?.[k][field] ?? NaN));
    const refreshCounts = rounds.map((r) => r.kakao?.expired.refreshes ?? NaN);
    lines.push(
      '',
      `### GET /me/kakao, one user, ${settings.kakaoBurst} concurrent requests (app a)`,
      '',
      '| token | p50, ms | p99, ms | max, ms | non-200 | Kakao user/me calls | Kakao refresh calls |',
      '|---|---:|---:|---:|---:|---:|---|',
      `| valid | ${fmt(kv('valid', 'p50'), 1)} | ${fmt(kv('valid', 'p99'), 1)} | ${fmt(kv('valid', 'max'), 1)} | ${fmt(kv('valid', 'non200'))} | ${fmt(kv('valid', 'userMe'))} | ${rounds.map((r) => r.kakao?.valid.refreshes ?? '–').join(', ')} |`,
      `| expired at Kakao | ${fmt(kv('expired', 'p50'), 1)} | ${fmt(kv('expired', 'p99'), 1)} | ${fmt(kv('expired', 'max'), 1)} | ${fmt(kv('expired', 'non200'))} | ${fmt(kv('expired', 'userMe'))} | ${refreshCounts.join(', ')} (must be 1 each: ${rounds.some((r) => r.kakao) ? (refreshCounts.every((c) => c === 1) ? 'met' : 'missed') : 'not measured'}) |`,
    );
  }

  if (has('login') || has('me')) {
    lines.push(
      '',
      '<details><summary>Per round</summary>',
      '',
      '| round | app | logins/s | login p50 / p99, ms | GET /me req/s | GET /me p99, ms | logins/s ÷ b | GET /me ÷ c |',
      '|---:|---|---:|---|---:|---:|---:|---:|',
      ...rounds.flatMap((r, i) =>
        APPS.map((k) => {
          const e = r[k] ?? {};
          return `| ${i + 1} | ${k} | ${fmt(e.loginsPerSecond)} | ${fmt(e.loginP50, 1)} / ${fmt(e.loginP99, 1)} | ${fmt(e.meRps)} | ${fmt(e.meP99)} | ${fmt(ratio(e.loginsPerSecond, r.b?.loginsPerSecond), 2)} | ${fmt(ratio(e.meRps, r.c?.meRps), 2)} |`;
        }),
      ),
      '',
      '</details>',
    );
  }
  lines.push('');
  return lines.join('\n');
}
