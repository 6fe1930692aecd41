/* global Buffer */
// What the keys of the bench's redis-server hold: count, Σ MEMORY USAGE, and a breakdown by key family.

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
export function keyKind(key) {
  return key
    .replace(/\{[^}]*\}/g, '{…}')
    .replace(/:[A-Za-z0-9_-]{16,}$/, ':…')
    .replace(/:\d+$/, ':…');
}

/** What a key holds before Redis overhead: string length, or members/fields (and their value bytes). */
async function content(client, key, type) {
  switch (type) {
    case 'string':
      return { length: Number(await client.strlen(key)), unit: 'B' };
    case 'hash': {
      const fields = await client.hgetall(key);
      const values = Object.entries(fields);
      return {
        length: values.length,
        unit: 'fields',
        valueBytes: values.reduce((s, [f, v]) => s + Buffer.byteLength(f) + Buffer.byteLength(v), 0),
      };
    }
    case 'set':
      return { length: Number(await client.scard(key)), unit: 'members' };
    case 'zset':
      return { length: Number(await client.zcard(key)), unit: 'members' };
    case 'list':
      return { length: Number(await client.llen(key)), unit: 'items' };
    default:
      return { length: NaN, unit: type };
  }
}

/**
 * Every key: `{ count, bytes (Σ MEMORY USAGE … SAMPLES 0), kinds: [{ kind, type, count, meanBytes,
 * meanLength, unit, meanValueBytes, meanTtlSeconds }] }`.
 */
export async function describeKeys(client) {
  const keys = await allKeys(client);
  const kinds = new Map();
  let bytes = 0;
  for (const key of keys) {
    const type = await client.type(key);
    const size = Number(await client.memory('USAGE', key, 'SAMPLES', '0'));
    const ttl = Number(await client.pttl(key));
    const c = await content(client, key, type);
    bytes += size;
    const id = `${keyKind(key)} ${type}`;
    const e = kinds.get(id) ?? {
      kind: keyKind(key),
      type,
      unit: c.unit,
      count: 0,
      bytes: 0,
      length: 0,
      valueBytes: 0,
      ttlMs: 0,
      withTtl: 0,
    };
    e.count++;
    e.bytes += size;
    e.length += c.length;
    e.valueBytes += c.valueBytes ?? 0;
    if (ttl >= 0) {
      e.ttlMs += ttl;
      e.withTtl++;
    }
    kinds.set(id, e);
  }
  return {
    count: keys.length,
    bytes,
    kinds: [...kinds.values()].map((e) => ({
      kind: e.kind,
      type: e.type,
      unit: e.unit,
      count: e.count,
      meanBytes: e.bytes / e.count,
      meanLength: e.length / e.count,
      meanValueBytes: e.type === 'hash' ? e.valueBytes / e.count : undefined,
      meanTtlSeconds: e.withTtl > 0 ? e.ttlMs / e.withTtl / 1000 : undefined,
      noTtl: e.count - e.withTtl,
    })),
  };
}

/** `kle:sess:… string ×1000 ≈ 408 B (263 B, TTL 1800 s)` lines for a report. */
export function formatKinds(kinds, per = 1) {
  if (kinds.length === 0) return 'none';
  return kinds
    .map((k) => {
      const what =
        k.unit === 'B'
          ? `${Math.round(k.meanLength)} B`
          : `${k.meanLength.toFixed(1)} ${k.unit}${k.meanValueBytes !== undefined ? `, ${Math.round(k.meanValueBytes)} B` : ''}`;
      const ttl = k.meanTtlSeconds !== undefined ? `, TTL ≈ ${Math.round(k.meanTtlSeconds)} s` : '';
      const noTtl = k.noTtl > 0 ? `, ${k.noTtl} without TTL` : '';
      const count = per === 1 ? `×${k.count}` : `×${(k.count / per).toFixed(2)}/user`;
      return `\`${k.kind}\` (${k.type}) ${count} ≈ ${Math.round(k.meanBytes)} B (holds ${what}${ttl}${noTtl})`;
    })
    .join(', ');
}
