/**
 * The TokenStore + MarkerStore contract, run against RedisTokenStore on ioredis (single and Cluster) and
 * node-redis (single and cluster), each on this file's own redis-server / three-master cluster, and
 * against MemoryTokenStore. Then what only Redis shows: the hash layout and its PTTL, pruning, the
 * per-user bound, one command per listing/ending, one slot per user, and errors during an outage.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { Cluster, Redis } from 'ioredis';
import { TokenStoreError } from '../../lib/errors';
import { markerNames, type MarkerStore, type TokenStore } from '../../lib/stores/contracts';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { RedisTokenStore } from '../../lib/stores/redis-token-store';
import {
  CLIENT_KINDS,
  connectClient,
  inspector,
  monitorNodes,
  quitIoredis,
  type ClientKind,
  type ConnectedClient,
  type RedisTarget,
} from '../helpers/redis-clients';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '../helpers/redis-server';
import { hasLogin, storedLogins } from '../helpers/user-logins';
import { sleep } from '../../lib/util';

const DAY = 86_400;
const OFFLINE = '~offline';

let single: RedisServerHandle;
let cluster: RedisClusterHandle;
const connected: ConnectedClient[] = [];
const inspectors: Array<Redis | Cluster> = [];

beforeAll(async () => {
  single = await startRedisServer();
  cluster = await startRedisCluster();
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(connected.map((c) => c.close()));
  await Promise.allSettled(inspectors.map(quitIoredis));
  await cluster?.kill();
  await single?.kill();
});

function targetOf(kind: ClientKind): RedisTarget {
  return kind.endsWith('cluster') ? { nodes: cluster.nodes } : { url: single.url };
}

function portsOf(kind: ClientKind): number[] {
  return kind.endsWith('cluster') ? cluster.ports : [single.port];
}

async function connect(kind: ClientKind): Promise<ConnectedClient> {
  const c = await connectClient(kind, targetOf(kind));
  connected.push(c);
  return c;
}

async function inspect$(kind: ClientKind): Promise<Redis | Cluster> {
  const i = await inspector(targetOf(kind));
  inspectors.push(i);
  return i;
}

let sequence = 0;
function newUser(): string {
  sequence += 1;
  return `${4_100_000_000 + sequence}${randomBytes(2).readUInt16BE(0)}`;
}
function newSession(): string {
  return randomBytes(24).toString('base64url');
}
function sealedValue(): string {
  return `kt1.k1.${randomBytes(12).toString('base64url')}.${randomBytes(60).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
}

/** A clock the test moves by hand (frozen between moves). */
class Clock {
  t = Date.now();
  now = () => this.t;
  /** Places the clock at `ms` past a whole second, so second-granularity rounding shows. */
  atMillis(ms: number): void {
    this.t = Math.floor(Date.now() / 1000) * 1000 + ms;
  }
}

interface Backend {
  name: string;
  clock: Clock;
  store: TokenStore;
  markers: MarkerStore;
  /** Lets time pass for markers too: the clock alone for memory, the clock and real time for Redis. */
  passTime(ms: number): Promise<void>;
  /** Makes a store with other options over the same backend. */
  make(options: { maxLoginsPerUser?: number }): TokenStore;
}

type BackendFactory = () => Promise<Backend>;

function redisBackend(kind: ClientKind): [string, BackendFactory] {
  return [
    `RedisTokenStore (${kind})`,
    async () => {
      const c = await connect(kind);
      const clock = new Clock();
      const prefix = uniquePrefix(`store-${kind}`);
      const make = (options: { maxLoginsPerUser?: number }) =>
        new RedisTokenStore({ client: c.client, prefix, now: clock.now, ...options });
      const store = make({});
      return {
        name: kind,
        clock,
        store,
        markers: store.markers!,
        passTime: async (ms) => {
          clock.t += ms;
          await sleep(ms);
        },
        make,
      };
    },
  ];
}

const memoryBackend: [string, BackendFactory] = [
  'MemoryTokenStore',
  async () => {
    const clock = new Clock();
    const make = (options: { maxLoginsPerUser?: number }) =>
      new MemoryTokenStore({ now: clock.now, ...options });
    const store = make({});
    return {
      name: 'memory',
      clock,
      store,
      markers: store.markers,
      passTime: async (ms) => {
        clock.t += ms;
      },
      make,
    };
  },
];

const backends: Array<[string, BackendFactory]> = [...CLIENT_KINDS.map(redisBackend), memoryBackend];

function expectArgError(run: () => Promise<unknown>, pattern: RegExp, secrets: readonly string[] = []) {
  return expect(
    run().catch((error: TypeError & { code?: string }) => {
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
      for (const secret of secrets) expect(error.message).not.toContain(secret);
      throw error;
    }),
  ).rejects.toThrow(pattern);
}

describe.each(backends)('%s: the TokenStore contract', (_name, factory) => {
  let b: Backend;
  let store: TokenStore;
  beforeAll(async () => {
    b = await factory();
    store = b.store;
  });
  beforeEach(() => {
    b.clock.t = Date.now();
  });

  test('get: undefined for a login never stored', async () => {
    await expect(store.get({ userId: newUser(), sessionId: newSession() })).resolves.toBeUndefined();
  });

  test('set then get returns the value exactly; a second set replaces it; set drops nothing', async () => {
    const key = { userId: newUser(), sessionId: newSession() };
    // Any non-empty string round-trips, including the field separator and non-ASCII text.
    const odd = `a|b||c ✓ ${sealedValue()}`;
    await expect(store.set(key, odd, DAY)).resolves.toEqual([]);
    await expect(store.get(key)).resolves.toBe(odd);
    await expect(store.set(key, 'second', DAY)).resolves.toEqual([]);
    await expect(store.get(key)).resolves.toBe('second');
  });

  test('two logins of one user, and two users, are kept apart', async () => {
    const userId = newUser();
    const other = newUser();
    const [s1, s2] = [newSession(), newSession()];
    await store.set({ userId, sessionId: s1 }, 'one', DAY);
    await store.set({ userId, sessionId: s2 }, 'two', DAY);
    await store.set({ userId: other, sessionId: s1 }, 'other', DAY);
    await expect(store.get({ userId, sessionId: s1 })).resolves.toBe('one');
    await expect(store.get({ userId, sessionId: s2 })).resolves.toBe('two');
    await expect(store.get({ userId: other, sessionId: s1 })).resolves.toBe('other');
  });

  test('a record is readable for its whole TTL and gone after it, also when set late in a second', async () => {
    const key = { userId: newUser(), sessionId: newSession() };
    b.clock.atMillis(999);
    await store.set(key, 'short', 2);
    b.clock.t += 1950;
    await expect(store.get(key)).resolves.toBe('short');
    await expect(store.listLogins(key.userId)).resolves.toHaveLength(1);
    b.clock.t += 1100;
    await expect(store.get(key)).resolves.toBeUndefined();
    await expect(store.listLogins(key.userId)).resolves.toEqual([]);
    await expect(store.compareAndSet(key, 'short', 'revived', 60)).resolves.toBe(false);
    await expect(store.get(key)).resolves.toBeUndefined();
  });

  test('compareAndSet replaces only the expected value and creates nothing', async () => {
    const key = { userId: newUser(), sessionId: newSession() };
    await expect(store.compareAndSet(key, 'anything', 'new', DAY)).resolves.toBe(false);
    await expect(store.get(key)).resolves.toBeUndefined();
    await expect(store.listLogins(key.userId)).resolves.toEqual([]);
    await store.set(key, 'current', DAY);
    await expect(store.compareAndSet(key, 'stale', 'new', DAY)).resolves.toBe(false);
    await expect(store.get(key)).resolves.toBe('current');
    await expect(store.compareAndSet(key, 'current', 'new', DAY)).resolves.toBe(true);
    await expect(store.get(key)).resolves.toBe('new');
    // A prefix of the stored value is not the stored value.
    await expect(store.compareAndSet(key, 'ne', 'x', DAY)).resolves.toBe(false);
  });

  test('compareAndSet sets the new TTL (longer and shorter)', async () => {
    const key = { userId: newUser(), sessionId: newSession() };
    await store.set(key, 'v1', 60);
    await expect(store.compareAndSet(key, 'v1', 'v2', 3600)).resolves.toBe(true);
    b.clock.t += 120_000;
    await expect(store.get(key)).resolves.toBe('v2');
    await expect(store.compareAndSet(key, 'v2', 'v3', 60)).resolves.toBe(true);
    b.clock.t += 61_000;
    await expect(store.get(key)).resolves.toBeUndefined();
  });

  test('delete removes one login and keeps the others; deleting nothing is fine', async () => {
    const userId = newUser();
    const [s1, s2] = [newSession(), newSession()];
    await store.set({ userId, sessionId: s1 }, 'one', DAY);
    await store.set({ userId, sessionId: s2 }, 'two', DAY);
    await store.delete({ userId, sessionId: s1 });
    await expect(store.get({ userId, sessionId: s1 })).resolves.toBeUndefined();
    await expect(store.get({ userId, sessionId: s2 })).resolves.toBe('two');
    expect((await store.listLogins(userId)).map((l) => l.sessionId)).toEqual([s2]);
    await expect(store.delete({ userId, sessionId: newSession() })).resolves.toBeUndefined();
    await expect(store.delete({ userId: newUser(), sessionId: s1 })).resolves.toBeUndefined();
  });

  test('listLogins: every live login with its expiry, no expired one', async () => {
    const userId = newUser();
    const [long, short] = [newSession(), newSession()];
    const t0 = b.clock.t;
    await store.set({ userId, sessionId: long }, 'long', 7200);
    await store.set({ userId, sessionId: short }, 'short', 60);
    const listed = (await store.listLogins(userId)).sort((x, y) => x.expiresAt - y.expiresAt);
    expect(listed.map((l) => l.sessionId)).toEqual([short, long]);
    expect(listed[0]!.expiresAt).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(listed[0]!.expiresAt).toBeLessThanOrEqual(t0 + 61_000);
    expect(listed[1]!.expiresAt).toBeGreaterThanOrEqual(t0 + 7_200_000);
    expect(listed[1]!.expiresAt).toBeLessThanOrEqual(t0 + 7_201_000);
    b.clock.t += 61_000;
    expect((await store.listLogins(userId)).map((l) => l.sessionId)).toEqual([long]);
    await expect(store.listLogins(newUser())).resolves.toEqual([]);
  });

  test('deleteUser ends every login of that user, returns the live ones, and leaves others alone', async () => {
    const userId = newUser();
    const other = newUser();
    const sessions = [newSession(), newSession(), newSession()];
    await store.set({ userId, sessionId: sessions[0]! }, 'a', DAY);
    await store.set({ userId, sessionId: sessions[1]! }, 'b', DAY);
    await store.set({ userId, sessionId: sessions[2]! }, 'c', 30);
    await store.set({ userId: other, sessionId: sessions[0]! }, 'other', DAY);
    b.clock.t += 31_000;
    const deleted = await store.deleteUser(userId);
    expect(deleted.map((l) => l.sessionId).sort()).toEqual([sessions[0]!, sessions[1]!].sort());
    for (const l of deleted) expect(l.expiresAt).toBeGreaterThan(b.clock.t);
    for (const sessionId of sessions) await expect(store.get({ userId, sessionId })).resolves.toBeUndefined();
    await expect(store.listLogins(userId)).resolves.toEqual([]);
    await expect(store.get({ userId: other, sessionId: sessions[0]! })).resolves.toBe('other');
    await expect(store.deleteUser(userId)).resolves.toEqual([]);
  });

  test('at most maxLoginsPerUser logins: the oldest are dropped and returned by set', async () => {
    const small = b.make({ maxLoginsPerUser: 3 });
    const userId = newUser();
    const sessions = Array.from({ length: 5 }, newSession);
    const dropped: string[][] = [];
    for (const sessionId of sessions) {
      dropped.push(await small.set({ userId, sessionId }, `v-${sessionId}`, DAY));
      b.clock.t += 1000;
    }
    expect(dropped).toEqual([[], [], [], [sessions[0]], [sessions[1]]]);
    expect((await small.listLogins(userId)).map((l) => l.sessionId).sort()).toEqual(sessions.slice(2).sort());
    await expect(small.get({ userId, sessionId: sessions[0]! })).resolves.toBeUndefined();
    // Writing a login that is already there drops nobody.
    await expect(small.set({ userId, sessionId: sessions[2]! }, 'again', DAY)).resolves.toEqual([]);
    await expect(small.listLogins(userId)).resolves.toHaveLength(3);
  });

  test('the default bound is 50 logins per user', async () => {
    const userId = newUser();
    const sessions = Array.from({ length: 51 }, newSession);
    const dropped: string[] = [];
    for (const sessionId of sessions) {
      dropped.push(...(await store.set({ userId, sessionId }, 'v', DAY)));
      b.clock.t += 1000;
    }
    expect(dropped).toEqual([sessions[0]]);
    await expect(store.listLogins(userId)).resolves.toHaveLength(50);
  });

  test("the user's offline token set is never dropped by the bound", async () => {
    const small = b.make({ maxLoginsPerUser: 2 });
    const userId = newUser();
    await small.set({ userId, sessionId: OFFLINE }, 'offline', 60 * DAY);
    b.clock.t += 1000;
    const sessions = Array.from({ length: 4 }, newSession);
    const dropped: string[] = [];
    for (const sessionId of sessions) {
      dropped.push(...(await small.set({ userId, sessionId }, 'v', DAY)));
      b.clock.t += 1000;
    }
    expect(dropped).toEqual(sessions.slice(0, 2));
    await expect(small.get({ userId, sessionId: OFFLINE })).resolves.toBe('offline');
  });

  test('a login that outlives its record (loginTtlSeconds) stays listed until it ends, without its record', async () => {
    const userId = newUser();
    const [outliving, plain] = [newSession(), newSession()];
    const t0 = b.clock.t;
    await expect(
      store.set({ userId, sessionId: outliving }, 'r1', 2, { loginTtlSeconds: 60 }),
    ).resolves.toEqual([]);
    // Not longer than the TTL: the same as absent.
    await store.set({ userId, sessionId: plain }, 'r2', 2, { loginTtlSeconds: 2 });
    await expect(store.get({ userId, sessionId: outliving })).resolves.toBe('r1');
    b.clock.t += 3000;
    await expect(store.get({ userId, sessionId: outliving })).resolves.toBeUndefined();
    await expect(store.compareAndSet({ userId, sessionId: outliving }, 'r1', 'revived', 60)).resolves.toBe(
      false,
    );
    const listed = await store.listLogins(userId);
    expect(listed.map((l) => l.sessionId)).toEqual([outliving]);
    expect(listed[0]!.expiresAt).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(listed[0]!.expiresAt).toBeLessThanOrEqual(t0 + 61_000);
    b.clock.t = t0 + 59_000;
    await expect(store.listLogins(userId)).resolves.toHaveLength(1);
    b.clock.t = t0 + 61_000;
    await expect(store.listLogins(userId)).resolves.toEqual([]);
    await expect(store.deleteUser(userId)).resolves.toEqual([]);
  });

  test('deleteUser reports the logins that outlived their records; delete ends one such listing', async () => {
    const userId = newUser();
    const sessions = [newSession(), newSession(), newSession()];
    for (const sessionId of sessions)
      await store.set({ userId, sessionId }, 'v', 2, { loginTtlSeconds: 600 });
    b.clock.t += 3000;
    await store.delete({ userId, sessionId: sessions[0]! });
    expect((await store.listLogins(userId)).map((l) => l.sessionId).sort()).toEqual(sessions.slice(1).sort());
    const deleted = await store.deleteUser(userId);
    expect(deleted.map((l) => l.sessionId).sort()).toEqual(sessions.slice(1).sort());
    for (const l of deleted) expect(l.expiresAt).toBeGreaterThan(b.clock.t + 590_000);
    await expect(store.listLogins(userId)).resolves.toEqual([]);
  });

  test('a write that no longer outlives its record ends the extra listing (one entry per login)', async () => {
    const userId = newUser();
    const sessionId = newSession();
    await store.set({ userId, sessionId }, 'v1', 2, { loginTtlSeconds: 7200 });
    await expect(store.compareAndSet({ userId, sessionId }, 'v1', 'v2', 3600)).resolves.toBe(true);
    const listed = await store.listLogins(userId);
    expect(listed.map((l) => l.sessionId)).toEqual([sessionId]);
    // The record's 3600 s, not the 7200 s the earlier write listed the login for.
    expect(listed[0]!.expiresAt).toBeGreaterThan(b.clock.t + 3_590_000);
    expect(listed[0]!.expiresAt).toBeLessThanOrEqual(b.clock.t + 3_601_000);
    b.clock.t += 3_602_000;
    await expect(store.listLogins(userId)).resolves.toEqual([]);
  });

  /** A store bounded to 3 logins, holding a user's 3 logins (a second apart) whose records have expired. */
  async function threeOutlivedLogins() {
    const small = b.make({ maxLoginsPerUser: 3 });
    const userId = newUser();
    const outlived = Array.from({ length: 3 }, newSession);
    for (const sessionId of outlived) {
      await small.set({ userId, sessionId }, 'v', 2, { loginTtlSeconds: 600 });
      b.clock.t += 1000;
    }
    b.clock.t += 3000;
    return { small, userId, outlived };
  }

  test('the bound counts logins that outlived their records too: those are dropped first, and returned', async () => {
    const { small, userId, outlived } = await threeOutlivedLogins();
    const fresh = [newSession(), newSession()];
    await expect(small.set({ userId, sessionId: fresh[0]! }, 'f', DAY)).resolves.toEqual([outlived[0]]);
    await expect(small.set({ userId, sessionId: fresh[1]! }, 'f', DAY)).resolves.toEqual([outlived[1]]);
    expect((await small.listLogins(userId)).map((l) => l.sessionId).sort()).toEqual(
      [outlived[2]!, ...fresh].sort(),
    );
  });

  test('writing the offline set takes one place of the bound from logins that outlived their records too', async () => {
    const { small, userId, outlived } = await threeOutlivedLogins();
    await expect(small.set({ userId, sessionId: OFFLINE }, 'offline', 60 * DAY)).resolves.toEqual([
      outlived[0],
    ]);
    expect((await small.listLogins(userId)).map((l) => l.sessionId).sort()).toEqual(
      [OFFLINE, ...outlived.slice(1)].sort(),
    );
  });

  test('markers: add creates once (NX) and keeps the first value', async () => {
    const name = `st:${randomBytes(16).toString('hex')}`;
    await expect(b.markers.add(name, 'first', 60_000)).resolves.toBe(true);
    await expect(b.markers.add(name, 'second', 60_000)).resolves.toBe(false);
    await expect(b.markers.has(name)).resolves.toBe(true);
    await expect(b.markers.deleteIf(name, 'second')).resolves.toBe(false);
    await expect(b.markers.deleteIf(name, 'first')).resolves.toBe(true);
    await expect(b.markers.has(name)).resolves.toBe(false);
    await expect(b.markers.deleteIf(name, 'first')).resolves.toBe(false);
  });

  test('markers: gone after their TTL, and can be added again then', async () => {
    const name = markerNames.refreshLock({ userId: newUser(), sessionId: newSession() });
    await expect(b.markers.add(name, 'holder', 200)).resolves.toBe(true);
    await expect(b.markers.has(name)).resolves.toBe(true);
    await b.passTime(350);
    await expect(b.markers.has(name)).resolves.toBe(false);
    await expect(b.markers.deleteIf(name, 'holder')).resolves.toBe(false);
    await expect(b.markers.add(name, 'next', 10_000)).resolves.toBe(true);
  });

  test('markers: has is false for a marker never added', async () => {
    await expect(b.markers.has(`e:{${newUser()}}:${newSession()}`)).resolves.toBe(false);
  });

  describe('argument checks (TypeError ERR_INVALID_ARG_VALUE, the value never echoed)', () => {
    const badIds: Array<[string, unknown]> = [
      ['empty', ''],
      ['with a space', 'a b'],
      ['with "{"', 'a{b'],
      ['with "}"', 'a}b'],
      ['with a tab', 'tab\there'],
      ['with a newline', 'line\nbreak'],
      ['with a NUL', 'nul\u0000byte'],
      ['129 characters', 'x'.repeat(129)],
      ['a number', 42],
      ['undefined', undefined],
    ];

    test.each(badIds)('a session id %s is refused by every operation', async (_label, sessionId) => {
      const key = { userId: newUser(), sessionId } as { userId: string; sessionId: string };
      const secrets = typeof sessionId === 'string' && sessionId.length > 3 ? [sessionId] : [];
      await expectArgError(() => store.get(key), /"sessionId" must be 1–128 characters/, secrets);
      await expectArgError(() => store.set(key, 'v', 60), /"sessionId"/, secrets);
      await expectArgError(() => store.compareAndSet(key, 'a', 'b', 60), /"sessionId"/, secrets);
      await expectArgError(() => store.delete(key), /"sessionId"/, secrets);
    });

    test.each(badIds)('a user id %s is refused by every operation', async (_label, userId) => {
      const key = { userId, sessionId: newSession() } as { userId: string; sessionId: string };
      const secrets = typeof userId === 'string' && userId.length > 3 ? [userId] : [];
      await expectArgError(() => store.get(key), /"userId" must be 1–128 characters/, secrets);
      await expectArgError(() => store.set(key, 'v', 60), /"userId"/, secrets);
      await expectArgError(() => store.compareAndSet(key, 'a', 'b', 60), /"userId"/, secrets);
      await expectArgError(() => store.delete(key), /"userId"/, secrets);
      await expectArgError(() => store.listLogins(userId as string), /"userId"/, secrets);
      await expectArgError(() => store.deleteUser(userId as string), /"userId"/, secrets);
    });

    test('a key that is not an object is refused', async () => {
      await expectArgError(() => store.get(null as never), /the key must be an object/);
      await expectArgError(() => store.set('u:s' as never, 'v', 60), /the key must be an object/);
    });

    test.each([
      ['empty', ''],
      ['a number', 7],
      ['null', null],
    ])('a sealed value that is %s is refused', async (_label, value) => {
      const key = { userId: newUser(), sessionId: newSession() };
      await expectArgError(() => store.set(key, value as string, 60), /"sealed" must be a non-empty string/);
      await expectArgError(() => store.compareAndSet(key, 'a', value as string, 60), /"sealed"/);
      await expectArgError(() => store.compareAndSet(key, value as string, 'b', 60), /"expected"/);
      await expect(store.get(key)).resolves.toBeUndefined();
    });

    test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '60', 2 ** 53])(
      'the TTL %p is refused',
      async (ttl) => {
        const key = { userId: newUser(), sessionId: newSession() };
        await expectArgError(
          () => store.set(key, 'v', ttl as number),
          /"ttlSeconds" must be a positive integer/,
        );
        await expectArgError(() => store.compareAndSet(key, 'a', 'b', ttl as number), /"ttlSeconds"/);
        await expect(store.get(key)).resolves.toBeUndefined();
      },
    );

    test.each([0, -1, 1.5, Number.NaN, '600'])('the login TTL %p is refused', async (loginTtl) => {
      const key = { userId: newUser(), sessionId: newSession() };
      const options = { loginTtlSeconds: loginTtl as number };
      await expectArgError(
        () => store.set(key, 'v', 60, options),
        /"loginTtlSeconds" must be a positive integer/,
      );
      await expectArgError(() => store.compareAndSet(key, 'a', 'b', 60, options), /"loginTtlSeconds"/);
      await expect(store.listLogins(key.userId)).resolves.toEqual([]);
    });

    test.each([
      ['empty', ''],
      ['with a space', 'a b'],
      ['with a newline', 'a\nb'],
      ['301 characters', 'x'.repeat(301)],
      ['a number', 5],
    ])('a marker name %s is refused', async (_label, name) => {
      await expectArgError(() => b.markers.add(name as string, 'v', 1000), /"name" must be 1–300 characters/);
      await expectArgError(() => b.markers.has(name as string), /"name"/);
      await expectArgError(() => b.markers.deleteIf(name as string, 'v'), /"name"/);
    });

    test('a marker value must be a non-empty string and its TTL a positive integer of ms', async () => {
      const name = `st:${randomBytes(8).toString('hex')}`;
      await expectArgError(() => b.markers.add(name, '', 1000), /"value" must be a non-empty string/);
      await expectArgError(() => b.markers.deleteIf(name, ''), /"value" must be a non-empty string/);
      for (const ttl of [0, -5, 2.5, Number.NaN, '1000']) {
        await expectArgError(
          () => b.markers.add(name, 'v', ttl as number),
          /"ttlMs" must be a positive integer/,
        );
      }
      await expect(b.markers.has(name)).resolves.toBe(false);
    });
  });
});

describe.each(CLIENT_KINDS)('RedisTokenStore (%s) on the wire', (kind) => {
  let c: ConnectedClient;
  let redis: Redis | Cluster;
  let clock: Clock;
  let prefix: string;
  let store: RedisTokenStore;
  beforeAll(async () => {
    c = await connect(kind);
    redis = await inspect$(kind);
    clock = new Clock();
    prefix = uniquePrefix(`wire-${kind}`);
    store = new RedisTokenStore({ client: c.client, prefix, now: clock.now });
  });
  beforeEach(() => {
    clock.t = Date.now();
  });
  const userKey = (userId: string) => `${prefix}u:{${userId}}`;

  test('one string per user: a line per login, "<session id> <expiry base 36 s>|<sealed>", no other key', async () => {
    const userId = newUser();
    const [s1, s2] = [newSession(), newSession()];
    const [v1, v2] = [sealedValue(), sealedValue()];
    const t0 = clock.t;
    await store.set({ userId, sessionId: s1 }, v1, 3600);
    await store.set({ userId, sessionId: s2 }, v2, 7200);
    await expect(redis.type(userKey(userId))).resolves.toBe('string');
    const hash = await storedLogins(redis, userKey(userId));
    expect(Object.keys(hash).sort()).toEqual([s1, s2].sort());
    for (const [field, sealed, ttl] of [
      [s1, v1, 3600],
      [s2, v2, 7200],
    ] as const) {
      const [expiry, rest] = [
        hash[field]!.slice(0, hash[field]!.indexOf('|')),
        hash[field]!.slice(hash[field]!.indexOf('|') + 1),
      ];
      expect(expiry).toMatch(/^[0-9a-z]+$/);
      const expiresAt = parseInt(expiry, 36) * 1000;
      expect(expiresAt).toBeGreaterThanOrEqual(t0 + ttl * 1000);
      expect(expiresAt).toBeLessThanOrEqual(t0 + ttl * 1000 + 1000);
      expect(rest).toBe(sealed);
    }
    // Nothing else of this user exists (no index, no per-login key).
    await expect(redis.exists(`${prefix}idx:{${userId}}`)).resolves.toBe(0);
  });

  test("the hash's PTTL follows its latest field expiry through set and compareAndSet", async () => {
    const userId = newUser();
    const [a, b2, c2] = [newSession(), newSession(), newSession()];
    const pttl = async () => Number(await redis.pttl(userKey(userId)));
    const near = async (seconds: number) => {
      const ms = await pttl();
      expect(ms).toBeGreaterThan(seconds * 1000 - 2000);
      expect(ms).toBeLessThanOrEqual(seconds * 1000 + 1000);
    };
    await store.set({ userId, sessionId: a }, 'a', 1000);
    await near(1000);
    await store.set({ userId, sessionId: b2 }, 'b', 5000);
    await near(5000);
    // A shorter login does not shorten the hash.
    await store.set({ userId, sessionId: c2 }, 'c', 10);
    await near(5000);
    // Renewing a login past the latest lengthens it.
    await expect(store.compareAndSet({ userId, sessionId: a }, 'a', 'a2', 9000)).resolves.toBe(true);
    await near(9000);
    // Shortening the latest login brings the hash back to the next latest one.
    await expect(store.compareAndSet({ userId, sessionId: a }, 'a2', 'a3', 100)).resolves.toBe(true);
    await near(5000);
    // Re-setting the latest login shorter does the same.
    await store.set({ userId, sessionId: b2 }, 'b2', 200);
    await near(200);
  });

  test('a login that outlives its record is a line "<session id> <end base 36 s>" of <prefix>us:{<user>}, only while it does', async () => {
    const userId = newUser();
    const [short, outliving] = [newSession(), newSession()];
    const listKey = `${prefix}us:{${userId}}`;
    const t0 = clock.t;
    await store.set({ userId, sessionId: short }, 'short', 100);
    await expect(redis.exists(listKey)).resolves.toBe(0);
    await store.set({ userId, sessionId: outliving }, 'v1', 50, { loginTtlSeconds: 3600 });
    const text = await redis.get(listKey);
    expect(text).toMatch(new RegExp(`^${outliving} [0-9a-z]+$`));
    const end = parseInt(text!.split(' ')[1]!, 36) * 1000;
    expect(end).toBeGreaterThanOrEqual(t0 + 3_600_000);
    expect(end).toBeLessThanOrEqual(t0 + 3_601_000);
    // The record keeps its own TTL (the key with the tokens lives 100 s); the listing lives the hour.
    expect(Number(await redis.pttl(userKey(userId)))).toBeLessThanOrEqual(101_000);
    expect(Number(await redis.pttl(listKey))).toBeGreaterThan(3_590_000);
    await expect(store.compareAndSet({ userId, sessionId: outliving }, 'v1', 'v2', 7200)).resolves.toBe(true);
    await expect(redis.exists(listKey)).resolves.toBe(0);
    await store.set({ userId, sessionId: outliving }, 'v3', 50, { loginTtlSeconds: 3600 });
    await store.deleteUser(userId);
    await expect(redis.exists(listKey, userKey(userId))).resolves.toBe(0);
  });

  test("expired logins are pruned by the next write to the user's key", async () => {
    const userId = newUser();
    const [gone, kept, fresh] = [newSession(), newSession(), newSession()];
    await store.set({ userId, sessionId: gone }, 'gone', 10);
    await store.set({ userId, sessionId: kept }, 'kept', 3600);
    clock.t += 11_000;
    // Still stored until a write happens, but never returned.
    await expect(hasLogin(redis, userKey(userId), gone)).resolves.toBe(1);
    await expect(store.get({ userId, sessionId: gone })).resolves.toBeUndefined();
    await store.set({ userId, sessionId: fresh }, 'fresh', 60);
    expect(Object.keys(await storedLogins(redis, userKey(userId))).sort()).toEqual([kept, fresh].sort());
  });

  test('the last field going removes the key; deleteUser removes it at once', async () => {
    const userId = newUser();
    const [s1, s2] = [newSession(), newSession()];
    await store.set({ userId, sessionId: s1 }, 'x', 60);
    await store.delete({ userId, sessionId: s1 });
    await expect(redis.exists(userKey(userId))).resolves.toBe(0);
    await store.set({ userId, sessionId: s1 }, 'x', 60);
    await store.set({ userId, sessionId: s2 }, 'y', 60);
    await store.deleteUser(userId);
    await expect(redis.exists(userKey(userId))).resolves.toBe(0);
  });

  test("listing and ending all of a user's 50 logins is one command each", async () => {
    const userId = newUser();
    const sessions = Array.from({ length: 50 }, newSession);
    const fill = async () => {
      for (const sessionId of sessions) await store.set({ userId, sessionId }, sealedValue(), 3600);
    };
    await fill();
    // Warm the script cache of this user's node, as a running app has it.
    await store.deleteUser(userId);
    await fill();
    const monitor = await monitorNodes(portsOf(kind));
    try {
      await monitor.settle();
      monitor.clear();
      const listed = await store.listLogins(userId);
      await monitor.settle();
      const listing = monitor.commands.filter((m) => m.source !== 'lua');
      monitor.clear();
      const ended = await store.deleteUser(userId);
      await monitor.settle();
      const ending = monitor.commands.filter((m) => m.source !== 'lua');

      expect(listed).toHaveLength(50);
      expect(ended).toHaveLength(50);
      expect(listing.map((m) => m.args[0]!.toLowerCase())).toEqual(['evalsha']);
      expect(ending.map((m) => m.args[0]!.toLowerCase())).toEqual(['evalsha']);
      expect(ending[0]!.args).toContain(userKey(userId));
      await expect(redis.exists(userKey(userId))).resolves.toBe(0);
    } finally {
      await monitor.stop();
    }
  });

  test("a user's record hash, refresh locks and tombstones share one slot", async () => {
    const userId = newUser();
    const sessionId = newSession();
    const keys = [
      userKey(userId),
      `${prefix}us:{${userId}}`,
      prefix + markerNames.refreshLock({ userId, sessionId }),
      prefix + markerNames.endedSession({ userId, sessionId }),
      prefix + markerNames.endedSession({ userId, sessionId: newSession() }),
    ];
    const slots = new Set(keys.map(keySlotLocal));
    expect(slots.size).toBe(1);
    if (kind.endsWith('cluster')) {
      // Redis agrees with the local computation.
      const served = await Promise.all(keys.map((key) => (redis as Cluster).cluster('KEYSLOT', key)));
      expect(new Set(served.map(Number))).toEqual(slots);
    }
    // And the store really uses them together on a cluster: no CROSSSLOT, no MOVED left unhandled.
    await store.set({ userId, sessionId }, 'v', 60);
    await expect(store.markers.add(markerNames.refreshLock({ userId, sessionId }), 'me', 5000)).resolves.toBe(
      true,
    );
    await expect(store.markers.add(markerNames.endedSession({ userId, sessionId }), '1', 5000)).resolves.toBe(
      true,
    );
    for (const key of [keys[0]!, ...keys.slice(2, 4)]) await expect(redis.exists(key)).resolves.toBe(1);
    await expect(store.markers.deleteIf(markerNames.refreshLock({ userId, sessionId }), 'me')).resolves.toBe(
      true,
    );
  });

  test('marker TTLs are set in Redis (PX) and add is NX', async () => {
    const name = `st:${randomBytes(16).toString('hex')}`;
    await store.markers.add(name, 'one', 90_000);
    const pttl = Number(await redis.pttl(prefix + name));
    expect(pttl).toBeGreaterThan(88_000);
    expect(pttl).toBeLessThanOrEqual(90_000);
    await store.markers.add(name, 'two', 500_000);
    await expect(redis.get(prefix + name)).resolves.toBe('one');
    expect(Number(await redis.pttl(prefix + name))).toBeLessThanOrEqual(90_000);
  });

  test('a Redis error (wrong type) is a TokenStoreError without the sealed value or the key', async () => {
    const userId = newUser();
    const sessionId = newSession();
    await redis.rpush(userKey(userId), 'not-a-string');
    await redis.expire(userKey(userId), 60);
    const sealed = sealedValue();
    for (const run of [
      () => store.set({ userId, sessionId }, sealed, 60),
      () => store.compareAndSet({ userId, sessionId }, sealed, sealedValue(), 60),
      () => store.get({ userId, sessionId }),
      () => store.listLogins(userId),
      () => store.deleteUser(userId),
    ]) {
      const error = await run().catch((caught: unknown) => caught);
      expectCleanStoreError(error, [sealed, sessionId, userKey(userId)]);
    }
  });
});

/** Redis's key slot (CRC16 of the hash tag), for single servers that have no CLUSTER KEYSLOT. */
function keySlotLocal(key: string): number {
  const open = key.indexOf('{');
  let tag = key;
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) tag = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

function expectCleanStoreError(error: unknown, secrets: readonly string[]): void {
  expect(error).toBeInstanceOf(TokenStoreError);
  const e = error as TokenStoreError;
  expect(e.code).toBe('ERR_KAKAO_TOKEN_STORE');
  expect(e.message).toBe('Token store unavailable');
  const dump = `${inspect(e, { depth: Infinity, showHidden: true })}\n${String(e.stack)}\n${JSON.stringify(e.cause ?? null)}`;
  for (const secret of secrets) expect(dump).not.toContain(secret);
}

describe.each(['ioredis', 'node-redis'] as const)('RedisTokenStore (%s) while Redis is killed', (kind) => {
  let server: RedisServerHandle;
  let c: ConnectedClient;
  let store: RedisTokenStore;
  beforeAll(async () => {
    server = await startRedisServer();
    c = await connectClient(kind, { url: server.url });
    store = new RedisTokenStore({ client: c.client, prefix: uniquePrefix(`outage-${kind}`) });
  });
  afterAll(async () => {
    await c?.close();
    await server?.kill();
  });

  test('every operation fails fast with a clean TokenStoreError, and the store recovers on the same client', async () => {
    const userId = newUser();
    const sessionId = newSession();
    const before = sealedValue();
    await store.set({ userId, sessionId }, before, 600);
    await store.deleteUser(newUser()); // the script is cached…
    await server.stop(); // …and the server dies mid-test (losing its data and script cache).
    const during = sealedValue();
    try {
      // The client notices the closed socket an event-loop turn or two after the server exits.
      const noticed = Date.now() + 1000;
      while (store.isReady() && Date.now() < noticed) await sleep(10);
      expect(store.isReady()).toBe(false);
      for (const run of [
        () => store.get({ userId, sessionId }),
        () => store.set({ userId, sessionId }, during, 600),
        () => store.compareAndSet({ userId, sessionId }, before, during, 600),
        () => store.delete({ userId, sessionId }),
        () => store.listLogins(userId),
        () => store.deleteUser(userId),
        () => store.markers.add(markerNames.refreshLock({ userId, sessionId }), during, 1000),
        () => store.markers.has(markerNames.endedSession({ userId, sessionId })),
        () => store.markers.deleteIf(markerNames.refreshLock({ userId, sessionId }), during),
      ]) {
        const started = Date.now();
        const error = await run().catch((caught: unknown) => caught);
        expect(Date.now() - started).toBeLessThan(1500);
        expectCleanStoreError(error, [before, during, sessionId, `u:{${userId}}`]);
      }
    } finally {
      await server.start();
    }
    const deadline = Date.now() + 8000;
    while (!store.isReady() && Date.now() < deadline) await sleep(50);
    expect(store.isReady()).toBe(true);
    await store.set({ userId, sessionId }, 'after', 600);
    await expect(store.get({ userId, sessionId })).resolves.toBe('after');
    await expect(store.compareAndSet({ userId, sessionId }, 'after', 'again', 600)).resolves.toBe(true);
    // The restarted server has no cached scripts: EVALSHA falls back to EVAL.
    await expect(store.deleteUser(userId)).resolves.toHaveLength(1);
  });
});

describe('RedisTokenStore on both cluster clients when the cluster dies', () => {
  test('operations fail with a clean TokenStoreError', async () => {
    const userId = newUser();
    const sessionId = newSession();
    const sealed = sealedValue();
    const stores: RedisTokenStore[] = [];
    for (const kind of ['ioredis-cluster', 'node-redis-cluster'] as const) {
      const c = await connect(kind);
      const store = new RedisTokenStore({ client: c.client, prefix: uniquePrefix(`dead-${kind}`) });
      await store.set({ userId, sessionId }, sealed, 600);
      stores.push(store);
    }
    // The last test of the file: the cluster is killed for good (afterAll's kill is idempotent).
    await cluster.kill();
    for (const store of stores) {
      for (const run of [
        () => store.get({ userId, sessionId }),
        () => store.set({ userId, sessionId }, sealed, 600),
        () => store.deleteUser(userId),
        () => store.markers.add(markerNames.refreshLock({ userId, sessionId }), sealed, 1000),
      ]) {
        const started = Date.now();
        const error = await run().catch((caught: unknown) => caught);
        expect(Date.now() - started).toBeLessThan(3000);
        expectCleanStoreError(error, [sealed, sessionId, `u:{${userId}}`]);
      }
    }
  });
});
