import * as pkce from '../../lib/pkce';
import { pkceChallenge } from '../../lib/pkce';
import {
  consumeTransaction,
  DEFAULT_TRANSACTION_LIMITS,
  isTransactionBag,
  openTransaction,
  type TransactionBag,
} from '../../lib/transactions';

const T0 = 1_700_000_000_000;
const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;

function open(bag: TransactionBag, now = T0, returnTo = '/', withNonce = false) {
  return openTransaction(bag, { returnTo, withNonce, now });
}

describe('openTransaction', () => {
  it('stores a transaction keyed by a fresh 43-character state with a PKCE verifier', () => {
    const bag: TransactionBag = {};
    const tx = open(bag, T0, '/dashboard');
    expect(tx.state).toMatch(BASE64URL_43);
    expect(tx.verifier).toMatch(BASE64URL_43);
    expect(tx.verifier).not.toBe(tx.state);
    expect(pkceChallenge(tx.verifier)).toMatch(BASE64URL_43);
    expect(tx).toEqual({ state: tx.state, verifier: tx.verifier, returnTo: '/dashboard', createdAt: T0 });
    expect(bag).toEqual({ [tx.state]: { v: tx.verifier, r: '/dashboard', t: T0 } });
  });

  it('adds a nonce only when asked to', () => {
    const bag: TransactionBag = {};
    const without = open(bag);
    const withNonce = open(bag, T0, '/', true);
    expect(without.nonce).toBeUndefined();
    expect(bag[without.state]).not.toHaveProperty('n');
    expect(withNonce.nonce).toMatch(BASE64URL_43);
    expect(bag[withNonce.state]?.n).toBe(withNonce.nonce);
  });

  it('keeps the bag JSON-serialisable', () => {
    const bag: TransactionBag = {};
    open(bag, T0, '/a', true);
    open(bag, T0 + 1, '/b');
    expect(JSON.parse(JSON.stringify(bag))).toEqual(bag);
    expect(isTransactionBag(JSON.parse(JSON.stringify(bag)))).toBe(true);
  });

  it('keeps at most five transactions: a sixth evicts the oldest', () => {
    const bag: TransactionBag = {};
    const txs = Array.from({ length: 6 }, (_, i) => open(bag, T0 + i));
    expect(Object.keys(bag)).toHaveLength(DEFAULT_TRANSACTION_LIMITS.maxTransactions);
    expect(consumeTransaction(bag, txs[0]!.state, T0 + 10)).toEqual({ ok: false, reason: 'unknown_state' });
    for (const tx of txs.slice(1)) expect(consumeTransaction(bag, tx.state, T0 + 10).ok).toBe(true);
  });

  it('evicts by creation time, not by position in the bag', () => {
    const bag: TransactionBag = {};
    const newer = open(bag, T0 + 100);
    const older = open(bag, T0);
    openTransaction(
      bag,
      { returnTo: '/', withNonce: false, now: T0 + 200 },
      { maxTransactions: 2, ttlMs: 600_000 },
    );
    expect(bag).not.toHaveProperty(older.state);
    expect(bag).toHaveProperty(newer.state);
  });

  it('drops expired transactions when a new one starts', () => {
    const bag: TransactionBag = {};
    const old = open(bag, T0);
    const fresh = open(bag, T0 + 600_001);
    expect(Object.keys(bag)).toEqual([fresh.state]);
    expect(bag).not.toHaveProperty(old.state);
  });

  it('honours custom limits and rejects nonsensical ones', () => {
    const bag: TransactionBag = {};
    const limits = { maxTransactions: 1, ttlMs: 1000 };
    openTransaction(bag, { returnTo: '/', withNonce: false, now: T0 }, limits);
    openTransaction(bag, { returnTo: '/', withNonce: false, now: T0 + 1 }, limits);
    expect(Object.keys(bag)).toHaveLength(1);
    expect(() =>
      openTransaction(bag, { returnTo: '/', withNonce: false, now: T0 }, { maxTransactions: 0, ttlMs: 1 }),
    ).toThrow(TypeError);
    expect(() =>
      openTransaction(bag, { returnTo: '/', withNonce: false, now: T0 }, { maxTransactions: 5, ttlMs: 0 }),
    ).toThrow(TypeError);
  });
});

describe('consumeTransaction', () => {
  it('lets two concurrent transactions of one session both complete, the first one first', () => {
    const bag: TransactionBag = {};
    const first = open(bag, T0, '/first');
    const second = open(bag, T0 + 1, '/second', true);
    expect(consumeTransaction(bag, first.state, T0 + 5)).toEqual({ ok: true, transaction: first });
    expect(consumeTransaction(bag, second.state, T0 + 5)).toEqual({ ok: true, transaction: second });
    expect(bag).toEqual({});
  });

  it('succeeds only once per state', () => {
    const bag: TransactionBag = {};
    const tx = open(bag);
    expect(consumeTransaction(bag, tx.state, T0).ok).toBe(true);
    expect(consumeTransaction(bag, tx.state, T0)).toEqual({ ok: false, reason: 'unknown_state' });
  });

  it('reports an unknown state and leaves the live transactions alone', () => {
    const bag: TransactionBag = {};
    const tx = open(bag);
    expect(consumeTransaction(bag, 'x'.repeat(43), T0)).toEqual({ ok: false, reason: 'unknown_state' });
    expect(consumeTransaction(bag, '', T0)).toEqual({ ok: false, reason: 'unknown_state' });
    expect(consumeTransaction(bag, tx.state.slice(0, 42), T0)).toEqual({
      ok: false,
      reason: 'unknown_state',
    });
    expect(Object.keys(bag)).toEqual([tx.state]);
  });

  it('accepts a transaction exactly at the end of its lifetime', () => {
    const bag: TransactionBag = {};
    const tx = open(bag);
    expect(consumeTransaction(bag, tx.state, T0 + 600_000).ok).toBe(true);
  });

  it('reports expiry after the ttl and deletes the expired entry', () => {
    const bag: TransactionBag = {};
    const tx = open(bag);
    expect(consumeTransaction(bag, tx.state, T0 + 600_001)).toEqual({ ok: false, reason: 'expired' });
    expect(bag).toEqual({});
    expect(consumeTransaction(bag, tx.state, T0 + 600_001)).toEqual({ ok: false, reason: 'unknown_state' });
  });

  it('prunes other expired transactions while consuming', () => {
    const bag: TransactionBag = {};
    const stale = open(bag, T0);
    const live = open(bag, T0 + 500_000);
    const other = open(bag, T0 + 500_000);
    expect(consumeTransaction(bag, live.state, T0 + 600_001).ok).toBe(true);
    expect(Object.keys(bag)).toEqual([other.state]);
    expect(bag).not.toHaveProperty(stale.state);
  });

  it('prunes expired transactions even when the state is unknown', () => {
    const bag: TransactionBag = {};
    open(bag, T0);
    consumeTransaction(bag, 'unknown', T0 + 600_001);
    expect(bag).toEqual({});
  });

  it('compares the state with every stored key in constant time, even after a match', () => {
    const bag: TransactionBag = {};
    const txs = Array.from({ length: 4 }, (_, i) => open(bag, T0 + i));
    const spy = jest.spyOn(pkce, 'safeEqual');
    try {
      expect(consumeTransaction(bag, txs[0]!.state, T0 + 10).ok).toBe(true);
      expect(spy).toHaveBeenCalledTimes(4);
    } finally {
      spy.mockRestore();
    }
  });

  it('does not find a state through the prototype chain', () => {
    const bag: TransactionBag = {};
    expect(consumeTransaction(bag, '__proto__', T0)).toEqual({ ok: false, reason: 'unknown_state' });
    expect(consumeTransaction(bag, 'constructor', T0)).toEqual({ ok: false, reason: 'unknown_state' });
  });
});

describe('isTransactionBag', () => {
  const verifier = 'v'.repeat(43);
  const state = 's'.repeat(43);

  it('accepts an empty bag and a well-formed bag', () => {
    expect(isTransactionBag({})).toBe(true);
    expect(isTransactionBag({ [state]: { v: verifier, r: '/x', t: T0 } })).toBe(true);
    expect(isTransactionBag({ [state]: { v: verifier, r: '/x', t: T0, n: 'nonce' } })).toBe(true);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a string', 'bag'],
    ['a number', 1],
    ['a class instance', new Map()],
    ['an entry that is not an object', { [state]: 'x' }],
    ['an entry that is an array', { [state]: [verifier, '/', T0] }],
    ['a key outside the state alphabet', { 'a b': { v: verifier, r: '/', t: T0 } }],
    ['an over-long key', { ['a'.repeat(129)]: { v: verifier, r: '/', t: T0 } }],
    ['a missing verifier', { [state]: { r: '/', t: T0 } }],
    ['a verifier that is too short', { [state]: { v: 'short', r: '/', t: T0 } }],
    ['a verifier that is not a string', { [state]: { v: 42, r: '/', t: T0 } }],
    ['a returnTo that is not a string', { [state]: { v: verifier, r: ['/'], t: T0 } }],
    ['a returnTo that is not a path', { [state]: { v: verifier, r: 'https://evil.com', t: T0 } }],
    ['an over-long returnTo', { [state]: { v: verifier, r: `/${'a'.repeat(2048)}`, t: T0 } }],
    ['a time that is a string', { [state]: { v: verifier, r: '/', t: String(T0) } }],
    ['a time that is not finite', { [state]: { v: verifier, r: '/', t: Infinity } }],
    ['a negative time', { [state]: { v: verifier, r: '/', t: -1 } }],
    ['a nonce that is not a string', { [state]: { v: verifier, r: '/', t: T0, n: 1 } }],
    ['an empty nonce', { [state]: { v: verifier, r: '/', t: T0, n: '' } }],
    ['an unknown field', { [state]: { v: verifier, r: '/', t: T0, admin: true } }],
    [
      'more than 64 entries',
      Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`s${i}`, { v: verifier, r: '/', t: T0 }])),
    ],
  ])('rejects %s', (_name, value) => {
    expect(isTransactionBag(value)).toBe(false);
  });
});
