import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import Redis, { type RedisOptions } from 'ioredis';
import { TokenStoreError } from '../../lib/errors';
import { createTokenCipher } from '../../lib/token-cipher';
import { MemoryTokenStore, RedisTokenStore, type TokenStore } from '../../lib/token-store';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server';

/** How an application should configure the client so that an outage fails requests quickly. */
const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 800,
  connectTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 200, 2000),
  lazyConnect: true,
};

const REFRESH_TTL = 5_184_000;
const prefix = uniquePrefix('token-store');
let redis: RedisServerHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url, FAIL_FAST);
  // Outage tests make the client report connection errors; they are asserted through the store.
  client.on('error', () => undefined);
  await client.connect();
});

afterAll(async () => {
  try {
    const keys = await scanKeys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client?.disconnect();
    await redis?.kill();
  }
});

let sequence = 0;
function newUser(): string {
  sequence += 1;
  return `${sequence}${randomBytes(3).toString('hex')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function scanKeys(pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

function expectConfigError(run: () => Promise<unknown>, pattern: RegExp, secrets: readonly string[] = []) {
  return expect(
    run().catch((error: TypeError & { code?: string }) => {
      expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
      for (const secret of secrets) expect(error.message).not.toContain(secret);
      throw error;
    }),
  ).rejects.toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(pattern) }));
}

interface Harness {
  store: TokenStore;
  /** Lets time pass for the store: the real clock for Redis, the injected clock for memory. */
  advance(ms: number): Promise<void>;
}

const backends: Array<[string, () => Harness]> = [
  ['RedisTokenStore', () => ({ store: new RedisTokenStore({ client, prefix }), advance: sleep })],
  [
    'MemoryTokenStore',
    () => {
      let now = 1_700_000_000_000;
      return {
        store: new MemoryTokenStore({ now: () => now }),
        advance: async (ms) => {
          now += ms;
        },
      };
    },
  ],
];

describe.each(backends)('%s', (_name, makeHarness) => {
  let harness: Harness;
  let store: TokenStore;
  beforeEach(() => {
    harness = makeHarness();
    store = harness.store;
  });

  it('returns undefined for a record that was never stored', async () => {
    await expect(store.get({ userId: newUser(), sessionId: 's1' })).resolves.toBeUndefined();
  });

  it('returns the stored value and replaces it on the next set', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await store.set(key, 'sealed-1', REFRESH_TTL);
    await expect(store.get(key)).resolves.toBe('sealed-1');
    await store.set(key, 'sealed-2', REFRESH_TTL);
    await expect(store.get(key)).resolves.toBe('sealed-2');
  });

  it('keeps the records of two sessions of one user apart', async () => {
    const userId = newUser();
    await store.set({ userId, sessionId: 's1' }, 'sealed-1', REFRESH_TTL);
    await store.set({ userId, sessionId: 's2' }, 'sealed-2', REFRESH_TTL);
    await expect(store.get({ userId, sessionId: 's1' })).resolves.toBe('sealed-1');
    await expect(store.get({ userId, sessionId: 's2' })).resolves.toBe('sealed-2');
  });

  it('forgets a record once its TTL has passed', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await store.set(key, 'sealed-1', 1);
    await harness.advance(400);
    await expect(store.get(key)).resolves.toBe('sealed-1');
    await harness.advance(800);
    await expect(store.get(key)).resolves.toBeUndefined();
    await expect(store.listUserRecords!(key.userId)).resolves.toEqual([]);
  });

  it('compareAndSet writes when the current value matches', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await store.set(key, 'old', REFRESH_TTL);
    await expect(store.compareAndSet(key, 'old', 'new', REFRESH_TTL)).resolves.toBe(true);
    await expect(store.get(key)).resolves.toBe('new');
  });

  it('compareAndSet leaves the record alone when the current value differs', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await store.set(key, 'current', REFRESH_TTL);
    await expect(store.compareAndSet(key, 'stale', 'new', REFRESH_TTL)).resolves.toBe(false);
    await expect(store.get(key)).resolves.toBe('current');
  });

  it('compareAndSet creates nothing when there is no record', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await expect(store.compareAndSet(key, 'anything', 'new', REFRESH_TTL)).resolves.toBe(false);
    await expect(store.get(key)).resolves.toBeUndefined();
    await expect(store.listUserRecords!(key.userId)).resolves.toEqual([]);
  });

  it('delete removes one session and its index entry, keeping the others', async () => {
    const userId = newUser();
    await store.set({ userId, sessionId: 's1' }, 'sealed-1', REFRESH_TTL);
    await store.set({ userId, sessionId: 's2' }, 'sealed-2', REFRESH_TTL);
    await store.delete({ userId, sessionId: 's1' });
    await expect(store.get({ userId, sessionId: 's1' })).resolves.toBeUndefined();
    await expect(store.get({ userId, sessionId: 's2' })).resolves.toBe('sealed-2');
    await expect(store.listUserRecords!(userId)).resolves.toEqual([{ userId, sessionId: 's2' }]);
    await expect(store.delete({ userId, sessionId: 'never-stored' })).resolves.toBeUndefined();
  });

  it('deleteUser removes every session of that user and nobody else', async () => {
    const userId = newUser();
    const other = newUser();
    await store.set({ userId, sessionId: 's1' }, 'sealed-1', REFRESH_TTL);
    await store.set({ userId, sessionId: 's2' }, 'sealed-2', 60);
    await store.set({ userId: other, sessionId: 's1' }, 'sealed-other', REFRESH_TTL);
    await expect(store.deleteUser(userId)).resolves.toBe(2);
    await expect(store.get({ userId, sessionId: 's1' })).resolves.toBeUndefined();
    await expect(store.get({ userId, sessionId: 's2' })).resolves.toBeUndefined();
    await expect(store.listUserRecords!(userId)).resolves.toEqual([]);
    await expect(store.get({ userId: other, sessionId: 's1' })).resolves.toBe('sealed-other');
    await expect(store.deleteUser(userId)).resolves.toBe(0);
  });

  it('lists the live records of a user', async () => {
    const userId = newUser();
    await store.set({ userId, sessionId: 'a' }, 'sealed-a', REFRESH_TTL);
    await store.set({ userId, sessionId: 'b' }, 'sealed-b', REFRESH_TTL);
    const records = await store.listUserRecords!(userId);
    expect(records.map((record) => record.sessionId).sort()).toEqual(['a', 'b']);
    expect(records.every((record) => record.userId === userId)).toBe(true);
  });

  it('grants a lock to one holder at a time', async () => {
    const name = `refresh:${newUser()}`;
    const token = await store.acquireLock(name, 10_000);
    expect(typeof token).toBe('string');
    await expect(store.acquireLock(name, 10_000)).resolves.toBeUndefined();
    await expect(store.acquireLock(`refresh:${newUser()}`, 10_000)).resolves.toEqual(expect.any(String));
  });

  it('releases a lock only with the token of its holder', async () => {
    const name = `refresh:${newUser()}`;
    const token = (await store.acquireLock(name, 10_000))!;
    await expect(store.releaseLock(name, 'not-the-token')).resolves.toBe(false);
    await expect(store.acquireLock(name, 10_000)).resolves.toBeUndefined();
    await expect(store.releaseLock(name, token)).resolves.toBe(true);
    await expect(store.releaseLock(name, token)).resolves.toBe(false);
    const next = await store.acquireLock(name, 10_000);
    expect(next).toEqual(expect.any(String));
    expect(next).not.toBe(token);
  });

  it('lets a lock expire after its TTL so a crashed holder cannot block forever', async () => {
    const name = `refresh:${newUser()}`;
    const token = (await store.acquireLock(name, 150))!;
    await harness.advance(250);
    const next = await store.acquireLock(name, 10_000);
    expect(next).toEqual(expect.any(String));
    await expect(store.releaseLock(name, token)).resolves.toBe(false);
    await expect(store.releaseLock(name, next!)).resolves.toBe(true);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects the TTL %p with a TypeError',
    async (ttl) => {
      const key = { userId: newUser(), sessionId: 's1' };
      await expectConfigError(() => store.set(key, 'sealed', ttl), /"ttlSeconds" must be a positive integer/);
      await expectConfigError(() => store.compareAndSet(key, 'a', 'b', ttl), /"ttlSeconds"/);
    },
  );

  it.each([
    ['empty', ''],
    ['with a space', 'a b'],
    ['with an opening brace', 'a{b'],
    ['with a closing brace', 'a}b'],
    ['with a tab', 'tab\there'],
    ['129 characters long', 'x'.repeat(129)],
  ])('rejects a session id that is %s, without echoing it', async (_label, sessionId) => {
    const key = { userId: newUser(), sessionId };
    const secrets = sessionId.length > 3 ? [sessionId] : [];
    await expectConfigError(() => store.get(key), /"sessionId" must be 1–128 characters/, secrets);
    await expectConfigError(() => store.set(key, 'sealed', 60), /"sessionId"/, secrets);
  });

  it('rejects an invalid user id in deleteUser and lock names with braces', async () => {
    await expectConfigError(() => store.deleteUser('a{b}'), /"userId"/);
    await expectConfigError(() => store.acquireLock('a}b', 100), /"name"/);
    await expectConfigError(() => store.acquireLock('ok', 0), /"ttlMs"/);
  });
});

describe('RedisTokenStore on the wire', () => {
  let store: RedisTokenStore;
  beforeAll(() => {
    store = new RedisTokenStore({ client, prefix });
  });

  it('sets the record TTL to the given seconds and the index TTL to the longest record', async () => {
    const userId = newUser();
    await store.set({ userId, sessionId: 'long' }, 'sealed-1', REFRESH_TTL);
    await store.set({ userId, sessionId: 'short' }, 'sealed-2', 600);
    const recordTtl = await client.ttl(`${prefix}tok:{${userId}}:long`);
    expect(Math.abs(recordTtl - REFRESH_TTL)).toBeLessThanOrEqual(2);
    expect(Math.abs((await client.ttl(`${prefix}tok:{${userId}}:short`)) - 600)).toBeLessThanOrEqual(2);
    expect(Math.abs((await client.ttl(`${prefix}idx:{${userId}}`)) - REFRESH_TTL)).toBeLessThanOrEqual(2);
  });

  it('refreshes the TTL on compareAndSet', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await store.set(key, 'old', 60);
    await store.compareAndSet(key, 'old', 'new', REFRESH_TTL);
    const ttl = await client.ttl(`${prefix}tok:{${key.userId}}:s1`);
    expect(Math.abs(ttl - REFRESH_TTL)).toBeLessThanOrEqual(2);
  });

  it('keeps every key under the prefix with the user id as hash tag', async () => {
    const userId = newUser();
    await store.set({ userId, sessionId: 's1' }, 'sealed-1', 600);
    await store.set({ userId, sessionId: 's2' }, 'sealed-2', 600);
    const token = (await store.acquireLock(`refresh:${userId}`, 10_000))!;
    const keys = (await scanKeys(`${prefix}*${userId}*`)).sort();
    expect(keys).toEqual(
      [
        `${prefix}idx:{${userId}}`,
        `${prefix}lock:{refresh:${userId}}`,
        `${prefix}tok:{${userId}}:s1`,
        `${prefix}tok:{${userId}}:s2`,
      ].sort(),
    );
    expect(await client.smembers(`${prefix}idx:{${userId}}`)).toEqual(expect.arrayContaining(['s1', 's2']));
    await store.releaseLock(`refresh:${userId}`, token);
  });

  it('removes the index entry on delete', async () => {
    const userId = newUser();
    await store.set({ userId, sessionId: 's1' }, 'sealed-1', 600);
    await store.set({ userId, sessionId: 's2' }, 'sealed-2', 600);
    await store.delete({ userId, sessionId: 's1' });
    await expect(client.sismember(`${prefix}idx:{${userId}}`, 's1')).resolves.toBe(0);
    await expect(client.exists(`${prefix}tok:{${userId}}:s1`)).resolves.toBe(0);
    await store.deleteUser(userId);
    await expect(scanKeys(`${prefix}*{${userId}}*`)).resolves.toEqual([]);
  });

  it('stores exactly the sealed string, never the plaintext token', async () => {
    const cipher = createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] });
    const refreshToken = `kakao-refresh-${randomBytes(24).toString('base64url')}`;
    const key = { userId: newUser(), sessionId: 's1' };
    const sealed = cipher.seal(refreshToken, { purpose: 'kakao-refresh', ...key });
    await store.set(key, sealed, REFRESH_TTL);
    const raw = await client.get(`${prefix}tok:{${key.userId}}:s1`);
    expect(raw).toBe(sealed);
    expect(raw).not.toContain(refreshToken);
    expect(cipher.open(raw!, { purpose: 'kakao-refresh', ...key }).plaintext).toBe(refreshToken);
  });

  it('runs its writes as cached scripts (EVALSHA)', async () => {
    const before = await evalshaCalls();
    await store.set({ userId: newUser(), sessionId: 's1' }, 'sealed', 60);
    await store.set({ userId: newUser(), sessionId: 's1' }, 'sealed', 60);
    expect(await evalshaCalls()).toBeGreaterThanOrEqual(before + 2);
  });

  it('honours the key prefix of the client itself, also in deleteUser', async () => {
    const prefixed = new Redis(redis.url, { ...FAIL_FAST, keyPrefix: `${prefix}client:` });
    prefixed.on('error', () => undefined);
    try {
      await prefixed.connect();
      const scoped = new RedisTokenStore({ client: prefixed, prefix: 'app:' });
      const userId = newUser();
      await scoped.set({ userId, sessionId: 's1' }, 'sealed-1', 60);
      await expect(client.get(`${prefix}client:app:tok:{${userId}}:s1`)).resolves.toBe('sealed-1');
      await expect(scoped.listUserRecords(userId)).resolves.toEqual([{ userId, sessionId: 's1' }]);
      await expect(scoped.deleteUser(userId)).resolves.toBe(1);
      await expect(scanKeys(`${prefix}client:*`)).resolves.toEqual([]);
    } finally {
      prefixed.disconnect();
    }
  });

  it('wraps a Redis error in TokenStoreError without the command arguments', async () => {
    const userId = newUser();
    // A string where the index set should be makes SADD fail inside the script.
    await client.set(`${prefix}idx:{${userId}}`, 'not-a-set');
    const sealed = `kt1.k1.${randomBytes(40).toString('base64url')}`;
    const error = await store.set({ userId, sessionId: 's1' }, sealed, 60).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TokenStoreError);
    expect((error as TokenStoreError).message).toBe('Token store unavailable');
    expect((error as TokenStoreError).code).toBe('ERR_KAKAO_TOKEN_STORE');
    expect((error as TokenStoreError).cause).toBeInstanceOf(Error);
    expect(inspect(error, { depth: 10 })).not.toContain(sealed);
    expect(JSON.stringify((error as TokenStoreError).cause)).not.toContain(sealed);
  });

  it('rejects a prefix with braces and a client that is not ioredis', () => {
    expect(() => new RedisTokenStore({ client, prefix: 'a{b}:' })).toThrow(
      /"prefix" must be a string without "\{"/,
    );
    expect(() => new RedisTokenStore({ client: {} as Redis })).toThrow(/ioredis Redis or Cluster/);
    expect(() => new RedisTokenStore({ client, prefx: 'x' } as never)).toThrow(/did you mean "prefix"/);
  });
});

describe('RedisTokenStore during a Redis outage', () => {
  let store: RedisTokenStore;
  beforeAll(() => {
    store = new RedisTokenStore({ client, prefix });
  });

  it('fails fast with TokenStoreError while Redis is down and recovers on the same client', async () => {
    const key = { userId: newUser(), sessionId: 's1' };
    await store.set(key, 'before-outage', 600);
    await redis.stop();
    try {
      for (const operation of [
        () => store.get(key),
        () => store.set(key, 'during-outage', 600),
        () => store.acquireLock(`refresh:${key.userId}`, 1000),
      ]) {
        const started = Date.now();
        const error = await operation().catch((caught: unknown) => caught);
        expect(Date.now() - started).toBeLessThan(1500);
        expect(error).toBeInstanceOf(TokenStoreError);
        expect((error as TokenStoreError).message).toBe('Token store unavailable');
      }
    } finally {
      await redis.start();
    }
    // The server lost its data and script cache; the client reconnects on its own.
    const deadline = Date.now() + 8000;
    for (;;) {
      try {
        await store.get(key);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
    await store.set(key, 'after-outage', 600);
    await expect(store.get(key)).resolves.toBe('after-outage');
    await expect(store.compareAndSet(key, 'after-outage', 'again', 600)).resolves.toBe(true);
    await expect(store.deleteUser(key.userId)).resolves.toBe(1);
  });
});

async function evalshaCalls(): Promise<number> {
  const info = await client.info('commandstats');
  const match = /cmdstat_evalsha:calls=(\d+)/.exec(info);
  return match ? Number(match[1]) : 0;
}
