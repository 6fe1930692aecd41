/**
 * Read-only looks into a test's own redis-server: keys, memory and per-command call counts, for tests
 * that assert what (and how much) the app wrote. Use a separate client from the app's; its own INFO
 * calls are left out of the deltas.
 */
import type { Redis } from 'ioredis';

/** Calls per command (`INFO commandstats`), e.g. `{ set: 2, getex: 1 }`; subcommands as `client|list`. */
export async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** The commands run between two {@link commandCalls} snapshots, without the INFO calls that took them. */
export function commandDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of after) {
    const diff = calls - (before.get(name) ?? 0);
    if (diff !== 0 && name !== 'info') delta[name] = diff;
  }
  return delta;
}

/** Runs `action` and returns what it made Redis run (every command, those inside Lua scripts too). */
export async function commandsDuring(
  client: Redis,
  action: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const before = await commandCalls(client);
  await action();
  return commandDelta(before, await commandCalls(client));
}

/** Every key, by SCAN (sorted). */
export async function allKeys(client: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

/**
 * Memory in bytes: `used` is `used_memory`; `withoutClients` leaves out the clients' buffers
 * (`mem_clients_normal`), which grow and shrink with every command and reply, INFO included; `dataset`
 * is `used_memory_dataset`, what the keys and values take without Redis's own overhead (clients, the
 * key tables, scripts).
 */
export async function memory(
  client: Redis,
): Promise<{ used: number; withoutClients: number; dataset: number }> {
  const text = await client.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1]);
  return {
    used: field('used_memory'),
    withoutClients: field('used_memory') - field('mem_clients_normal'),
    dataset: field('used_memory_dataset'),
  };
}

/**
 * {@link memory} once Redis's own accounting has caught up: it refreshes each client's cached memory
 * usage (`mem_clients_normal`) in its cron, so a reading right after traffic can be off by tens of KiB
 * in either direction. Reads until two readings a cron round apart agree (at most about 3 s).
 */
export async function settledMemory(
  client: Redis,
): Promise<{ used: number; withoutClients: number; dataset: number }> {
  let last = await memory(client);
  for (let i = 0; i < 15; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await memory(client);
    if (next.dataset === last.dataset && next.withoutClients === last.withoutClients) return next;
    last = next;
  }
  return last;
}

/** The server's process id (`INFO server`), e.g. to SIGSTOP it. */
export async function serverPid(client: Redis): Promise<number> {
  const match = /^process_id:(\d+)/m.exec(await client.info('server'));
  return Number(match?.[1]);
}
