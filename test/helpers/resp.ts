/**
 * One Redis command over a fresh TCP connection, for test helpers that inspect servers they started
 * (replication state, Sentinel's view, cluster slots) without leaving a client reconnecting in the
 * background when the server dies.
 */

import { createConnection } from 'node:net';

/** A parsed RESP2 reply: simple strings and bulk strings as strings, arrays as arrays, nil as null. */
export type RespReply = string | number | null | RespReply[];

/** A `-ERR …` reply from the server. */
export class RespError extends Error {
  override name = 'RespError';
}

/**
 * Sends `args` to `127.0.0.1:<port>` and resolves with the reply.
 *
 * @throws RespError for an error reply; Error when the connection fails or no reply comes within
 *   `timeoutMs` (default 1000).
 */
export function respCommand(port: number, args: readonly string[], timeoutMs = 1000): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, reply?: RespReply) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms`)),
    );
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parse(buffer, 0);
      if (parsed === undefined) return;
      if (parsed.value instanceof RespError) finish(parsed.value);
      else finish(undefined, parsed.value);
    });
  });
}

/** INFO <section> as a map of its `field:value` lines. */
export async function info(port: number, section: string, timeoutMs = 1000): Promise<Record<string, string>> {
  const text = String(await respCommand(port, ['INFO', section], timeoutMs));
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** A flat `[field, value, field, value, …]` array reply (SENTINEL MASTER) as a map. */
export function pairs(reply: RespReply): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

interface Parsed {
  value: RespReply | RespError;
  end: number;
}

/** Parses one reply starting at `at`; undefined while incomplete. */
function parse(buffer: Buffer, at: number): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[at]!);
  const line = buffer.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, cursor);
        if (item === undefined) return undefined;
        items.push(item.value instanceof RespError ? item.value.message : item.value);
        cursor = item.end;
      }
      return { value: items, end: cursor };
    }
    default:
      return { value: new RespError(`unexpected RESP type ${JSON.stringify(type)}`), end: buffer.length };
  }
}

/** Every key matching `pattern` on one node (SCAN), with its remaining TTL in ms (PTTL; -1 = none). */
export async function scanKeys(port: number, pattern: string): Promise<{ key: string; pttl: number }[]> {
  const found: { key: string; pttl: number }[] = [];
  let cursor = '0';
  do {
    const reply = await respCommand(port, ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']);
    if (!Array.isArray(reply) || !Array.isArray(reply[1]))
      throw new Error(`unexpected SCAN reply ${JSON.stringify(reply)}`);
    cursor = String(reply[0]);
    for (const key of reply[1])
      found.push({ key: String(key), pttl: Number(await respCommand(port, ['PTTL', String(key)])) });
  } while (cursor !== '0');
  return found;
}
