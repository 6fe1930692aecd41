/* global setTimeout */
// Server-side counters of the bench's own redis-server, read around each phase: commands by name
// (INFO commandstats), commands processed, read events (a batch of commands a client writes in one go
// is usually one read), memory and keys. Every snapshot is one INFO command on the bench's own
// connection; its cost (1 command, 1 read per interval) is taken out of every delta.

/** One INFO snapshot. */
export async function snapshot(client) {
  const text = await client.call('INFO', 'stats', 'commandstats', 'memory', 'clients', 'keyspace');
  const fields = {};
  const commands = {};
  let keys = 0;
  for (const line of text.split(/\r?\n/)) {
    const m = /^([a-z0-9_|]+):(.*)$/i.exec(line);
    if (!m) continue;
    const [, name, value] = m;
    if (name.startsWith('cmdstat_')) {
      const calls = Number(/(?:^|,)calls=(\d+)/.exec(value)?.[1] ?? 0);
      const failed = Number(/failed_calls=(\d+)/.exec(value)?.[1] ?? 0);
      const rejected = Number(/rejected_calls=(\d+)/.exec(value)?.[1] ?? 0);
      // `client|list` → `client list`: subcommands as redis-cli spells them.
      commands[name.slice('cmdstat_'.length).replace('|', ' ')] = { calls, failed, rejected };
    } else if (/^db\d+$/.test(name)) {
      keys += Number(/keys=(\d+)/.exec(value)?.[1] ?? 0);
    } else fields[name] = value;
  }
  return {
    commands,
    processed: Number(fields.total_commands_processed),
    reads: Number(fields.total_reads_processed),
    usedMemory: Number(fields.used_memory),
    // Query and reply buffers of the connections: they grow under load and shrink when idle.
    clientBuffers: Number(fields.mem_clients_normal),
    clients: Number(fields.connected_clients),
    keys,
  };
}

/**
 * What happened between two snapshots, without the bench's own INFO: `{ commands: {name: calls},
 * total, failed, reads, usedMemory, clientBuffers, keys, clients }`.
 */
export function diff(before, after) {
  const commands = {};
  let failed = 0;
  for (const [name, stat] of Object.entries(after.commands)) {
    const prev = before.commands[name] ?? { calls: 0, failed: 0, rejected: 0 };
    const calls = stat.calls - prev.calls - (name === 'info' ? 1 : 0);
    failed += stat.failed - prev.failed + stat.rejected - prev.rejected;
    if (calls !== 0) commands[name] = calls;
  }
  return {
    commands,
    total: after.processed - before.processed - 1,
    failed,
    reads: after.reads - before.reads - 1,
    usedMemory: after.usedMemory - before.usedMemory,
    clientBuffers: after.clientBuffers - before.clientBuffers,
    keys: after.keys - before.keys,
    clients: after.clients,
  };
}

/** `diff` scaled to one operation (`n` operations). */
export function perOperation(d, n) {
  const per = (v) => (n > 0 ? v / n : NaN);
  return {
    commands: Object.fromEntries(Object.entries(d.commands).map(([k, v]) => [k, per(v)])),
    total: per(d.total),
    reads: per(d.reads),
    failed: d.failed,
    n,
  };
}

/**
 * The Redis connections of the processes we started, by local address, so that a phase can check that
 * only the measured app talked to Redis: `CLIENT LIST` with `idle` (seconds since the last command).
 */
export async function clientList(client) {
  const text = await client.call('CLIENT', 'LIST');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split(' ').map((kv) => kv.split('=', 2))));
}

/** Lets commands sent after the last response (fire-and-forget writes) reach Redis before a snapshot. */
export const settle = (ms = 200) => new Promise((resolve) => setTimeout(resolve, ms));
