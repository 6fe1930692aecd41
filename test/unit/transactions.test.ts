import { randomBytes } from 'node:crypto';
import { TokenDecryptionError, TokenKeyUnknownError } from '../../lib/errors';
import { pkceChallenge } from '../../lib/pkce';
import { createTokenCipher, type TokenCipher, type TokenCipherKey } from '../../lib/token-cipher';
import {
  cookieBytes,
  possibleTransactionCookiePaths,
  transactionCookieConfig,
  transactionCookiePath,
} from '../../lib/transaction-cookies';
import {
  DEFAULT_TRANSACTION_LIMITS,
  checkTransaction,
  createTransaction,
  openTransaction,
  sealTransaction,
  stateDigest,
  transactionCookieName,
  transactionsToEvict,
  type LoginTransaction,
} from '../../lib/transactions';

const T0 = 1_700_000_000_000;
const TTL = DEFAULT_TRANSACTION_LIMITS.ttlMs;
const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;

function key(kid: string): TokenCipherKey {
  return { kid, key: randomBytes(32) };
}

const K1 = key('k1');
const K2 = key('k2');

/** The transaction cipher as kakaoAuth builds it: a subkey of the token key ring. */
function transactionCipher(keys: TokenCipherKey[]): TokenCipher {
  return createTokenCipher({ keys }).derive('login-transaction');
}

function newTransaction(overrides: Partial<Parameters<typeof createTransaction>[0]> = {}): LoginTransaction {
  return createTransaction({
    returnTo: '/dashboard',
    withNonce: false,
    now: T0,
    cookiePath: '/auth/kakao',
    ...overrides,
  });
}

function sealed(cipher: TokenCipher, tx: LoginTransaction = newTransaction()) {
  const name = transactionCookieName('kakao_tx', tx.state);
  return { tx, name, value: sealTransaction(cipher, name, tx) };
}

/** Replaces one character of `text` at `index` by another base64url character. */
function flip(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

describe('createTransaction', () => {
  it('draws a fresh 43-character state and a PKCE verifier, and a nonce only when asked', () => {
    const tx = newTransaction();
    expect(tx.state).toMatch(BASE64URL_43);
    expect(tx.verifier).toMatch(BASE64URL_43);
    expect(tx.verifier).not.toBe(tx.state);
    expect(pkceChallenge(tx.verifier)).toMatch(BASE64URL_43);
    expect(tx).toEqual({
      state: tx.state,
      verifier: tx.verifier,
      returnTo: '/dashboard',
      createdAt: T0,
      cookiePath: '/auth/kakao',
    });
    const oidc = newTransaction({ withNonce: true });
    expect(oidc.nonce).toMatch(BASE64URL_43);
    expect(newTransaction().state).not.toBe(tx.state);
  });
});

describe('transaction cookie names', () => {
  it('are the base plus 12 characters of the state digest, and the digest names the one-time marker', () => {
    const tx = newTransaction();
    const name = transactionCookieName('kakao_tx', tx.state);
    expect(name).toBe(`kakao_tx.${stateDigest(tx.state).slice(0, 12)}`);
    expect(name).toMatch(/^kakao_tx\.[A-Za-z0-9_-]{12}$/);
    expect(stateDigest(tx.state)).toMatch(BASE64URL_43);
    // The state itself never appears in the cookie name.
    expect(name).not.toContain(tx.state.slice(0, 12));
  });
});

describe('sealTransaction / openTransaction', () => {
  const cipher = transactionCipher([K1]);

  it('round-trips every field, with and without a nonce', () => {
    for (const tx of [newTransaction(), newTransaction({ withNonce: true, returnTo: '/a?b=c#d' })]) {
      const { name, value } = sealed(cipher, tx);
      expect(value).toMatch(/^kt1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(openTransaction(cipher, name, value)).toEqual(tx);
    }
  });

  it('keeps the verifier, state and nonce out of the cookie value', () => {
    const tx = newTransaction({ withNonce: true });
    const { value } = sealed(cipher, tx);
    for (const secret of [tx.state, tx.verifier, tx.nonce!, 'dashboard']) expect(value).not.toContain(secret);
  });

  it('seals each transaction under a fresh IV (the same transaction twice gives two values)', () => {
    const tx = newTransaction();
    const name = transactionCookieName('kakao_tx', tx.state);
    expect(sealTransaction(cipher, name, tx)).not.toBe(sealTransaction(cipher, name, tx));
  });

  it.each([
    ['the version', 0],
    ['the key id', 1],
    ['the IV', 2],
    ['the ciphertext', 3],
    ['the tag', 4],
  ])('refuses a value whose %s was edited', (_part, index) => {
    // A ring with two keys, so that a key id edited to the other one is a known key, not an unknown one.
    const two = transactionCipher([K1, K2]);
    const { name, value } = sealed(two);
    const parts = value.split('.');
    parts[index] = index === 1 ? 'k2' : flip(parts[index]!, Math.floor(parts[index]!.length / 2));
    expect(() => openTransaction(two, name, parts.join('.'))).toThrow(TokenDecryptionError);
  });

  it.each([
    ['empty', ''],
    ['garbage', 'not-a-cookie'],
    ['four parts', 'kt1.k1.a.b'],
    ['six parts', 'kt1.k1.a.b.c.d'],
    ['a truncated tag', 'cut'],
    ['padding added', 'pad'],
  ])('refuses a malformed value (%s)', (_what, kind) => {
    const { name, value } = sealed(cipher);
    const bad = kind === 'cut' ? value.slice(0, -2) : kind === 'pad' ? `${value}=` : kind;
    expect(() => openTransaction(cipher, name, bad)).toThrow(TokenDecryptionError);
  });

  it('refuses the value under another cookie name (the name is in the AAD)', () => {
    const a = sealed(cipher);
    const b = sealed(cipher);
    expect(() => openTransaction(cipher, b.name, a.value)).toThrow(TokenDecryptionError);
    expect(() => openTransaction(cipher, `__Host-${a.name}`, a.value)).toThrow(TokenDecryptionError);
    expect(() => openTransaction(cipher, a.name.slice(0, -1), a.value)).toThrow(TokenDecryptionError);
  });

  it("refuses a value sealed by another purpose's cipher, and opens none of its own for it", () => {
    const ring = createTokenCipher({ keys: [K1] });
    const other = ring.derive('other');
    const { name, value } = sealed(cipher);
    // Same key id, other subkey: tampering, not an unknown key.
    expect(() => openTransaction(other, name, value)).toThrow(TokenDecryptionError);
    expect(() => openTransaction(ring, name, value)).toThrow(TokenDecryptionError);
    const foreign = sealed(other);
    expect(() => openTransaction(cipher, foreign.name, foreign.value)).toThrow(TokenDecryptionError);
    // Sealed by the ring's own key (not the derived one) with the transaction purpose and name: refused.
    const underRing = ring.seal('{}', { purpose: 'kakao-login-transaction', name });
    expect(() => openTransaction(cipher, name, underRing)).toThrow(TokenDecryptionError);
  });

  it('refuses a sealed payload that is not a transaction (sealed by us, so treated as tampering)', () => {
    // Sealed with the transaction purpose and name, but the payload is not a transaction.
    const tx = newTransaction();
    const name = transactionCookieName('kakao_tx', tx.state);
    const notTransaction = sealTransaction(cipher, name, { ...tx, returnTo: 'https://evil.example/' });
    expect(() => openTransaction(cipher, name, notTransaction)).toThrow(TokenDecryptionError);
    const longReturnTo = sealTransaction(cipher, name, { ...tx, returnTo: `/${'a'.repeat(2048)}` });
    expect(() => openTransaction(cipher, name, longReturnTo)).toThrow(TokenDecryptionError);
  });

  it('reports a value sealed under a key id the ring lacks as TokenKeyUnknownError, not TokenDecryptionError', () => {
    const { name, value } = sealed(transactionCipher([K2]));
    let thrown: unknown;
    try {
      openTransaction(cipher, name, value);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TokenKeyUnknownError);
    expect(thrown).not.toBeInstanceOf(TokenDecryptionError);
    expect((thrown as TokenKeyUnknownError).code).toBe('ERR_KAKAO_TOKEN_KEY_UNKNOWN');
  });

  describe('key rotation', () => {
    it('opens a value sealed under [k1] with the ring [k2, k1], and it is stale', () => {
      const before = transactionCipher([K1]);
      const after = transactionCipher([K2, K1]);
      const { tx, name, value } = sealed(before);
      expect(openTransaction(after, name, value)).toEqual(tx);
      // Stale: sealed with a key that is no longer the current one. The transaction purpose and the
      // cookie name are what the AAD binds.
      expect(after.open(value, { purpose: 'kakao-login-transaction', name }).stale).toBe(true);
      expect(before.open(value, { purpose: 'kakao-login-transaction', name }).stale).toBe(false);
      // The new ring seals under k2.
      expect(sealed(after).value.split('.')[1]).toBe('k2');
    });

    it('reports a value sealed under [k1] as an unknown key once k1 left the ring ([k2])', () => {
      const { name, value } = sealed(transactionCipher([K1]));
      expect(() => openTransaction(transactionCipher([K2]), name, value)).toThrow(TokenKeyUnknownError);
    });

    it('does not open a value sealed under another k1 (same key id, other key bytes)', () => {
      const { name, value } = sealed(transactionCipher([key('k1')]));
      expect(() => openTransaction(cipher, name, value)).toThrow(TokenDecryptionError);
    });
  });
});

describe('checkTransaction', () => {
  const tx = newTransaction();

  it('accepts the own state while the transaction lives, up to its lifetime', () => {
    expect(checkTransaction(tx, tx.state, T0, TTL)).toBe('ok');
    expect(checkTransaction(tx, tx.state, T0 + TTL, TTL)).toBe('ok');
  });

  it('expires the transaction after its lifetime', () => {
    expect(checkTransaction(tx, tx.state, T0 + TTL + 1, TTL)).toBe('expired');
    expect(checkTransaction(tx, tx.state, T0 + 24 * 3600_000, TTL)).toBe('expired');
  });

  it('refuses a creation time more than a minute in the future (a clock far ahead)', () => {
    expect(checkTransaction(tx, tx.state, T0 - 60_000, TTL)).toBe('ok');
    expect(checkTransaction(tx, tx.state, T0 - 60_001, TTL)).toBe('expired');
  });

  it('refuses another state, also one that differs in one character', () => {
    expect(checkTransaction(tx, newTransaction().state, T0, TTL)).toBe('state_mismatch');
    expect(checkTransaction(tx, flip(tx.state, 42), T0, TTL)).toBe('state_mismatch');
    expect(checkTransaction(tx, tx.state.slice(0, 42), T0, TTL)).toBe('state_mismatch');
  });
});

describe('transactionsToEvict', () => {
  const limits = DEFAULT_TRANSACTION_LIMITS;
  const cookie = (i: number, bytes = 300) => ({ name: `kakao_tx.c${i}`, bytes, createdAt: T0 + i });

  it('has the documented defaults: 5 transactions, 10 minutes, 8 KiB', () => {
    expect(DEFAULT_TRANSACTION_LIMITS).toEqual({ maxTransactions: 5, ttlMs: 600_000, maxBytes: 8192 });
  });

  it('keeps four pending logins beside a new one, and drops the oldest of five', () => {
    expect(
      transactionsToEvict(
        [0, 1, 2, 3].map((i) => cookie(i)),
        300,
        limits,
      ),
    ).toEqual([]);
    expect(
      transactionsToEvict(
        [0, 1, 2, 3, 4].map((i) => cookie(i)),
        300,
        limits,
      ),
    ).toEqual(['kakao_tx.c0']);
    expect(
      transactionsToEvict(
        [0, 1, 2, 3, 4, 5, 6].map((i) => cookie(i)),
        300,
        limits,
      ),
    ).toEqual(['kakao_tx.c2', 'kakao_tx.c1', 'kakao_tx.c0']);
  });

  it('drops by creation time, not by order in the Cookie header', () => {
    const shuffled = [cookie(3), cookie(0), cookie(4), cookie(1), cookie(2)];
    expect(transactionsToEvict(shuffled, 300, limits)).toEqual(['kakao_tx.c0']);
  });

  it('drops the oldest until the cookies, the new one included, fit in the byte bound', () => {
    // 3 × 3000 bytes do not fit 8192 with a new one of 3000: only one old one stays.
    expect(
      transactionsToEvict(
        [0, 1, 2].map((i) => cookie(i, 3000)),
        3000,
        limits,
      ),
    ).toEqual(['kakao_tx.c1', 'kakao_tx.c0']);
    expect(transactionsToEvict([cookie(0, 5192)], 3000, limits)).toEqual([]);
    expect(transactionsToEvict([cookie(0, 5193)], 3000, limits)).toEqual(['kakao_tx.c0']);
  });

  it('always drops unreadable cookies (counted as infinitely large)', () => {
    const unreadable = { name: 'kakao_tx.bad', bytes: Infinity, createdAt: -1 };
    expect(transactionsToEvict([cookie(0), unreadable], 300, limits)).toEqual(['kakao_tx.bad']);
  });

  it('with 2048-character returnTo paths, keeps the pending cookies within 8 KiB (request headers well under 16 KiB)', () => {
    const cipher = transactionCipher([K1]);
    let jar: Array<{ name: string; value: string; bytes: number; createdAt: number }> = [];
    for (let i = 0; i < 10; i++) {
      const tx = newTransaction({ returnTo: `/${'r'.repeat(2047)}`, now: T0 + i });
      const { name, value } = sealed(cipher, tx);
      const bytes = cookieBytes(name, value);
      const evict = new Set(transactionsToEvict(jar, bytes, limits));
      jar = [...jar.filter((c) => !evict.has(c.name)), { name, value, bytes, createdAt: tx.createdAt }];
      const header = jar.map((c) => `${c.name}=${c.value}`).join('; ');
      expect(Buffer.byteLength(header)).toBeLessThanOrEqual(limits.maxBytes);
      // The newest is always kept.
      expect(jar.at(-1)!.name).toBe(name);
    }
    // Each such cookie is about 3 KiB, so two fit (not three), and the two newest are the ones kept.
    expect(jar).toHaveLength(2);
    expect(jar.map((c) => c.createdAt)).toEqual([T0 + 8, T0 + 9]);
  });
});

describe('transaction cookie configuration and path', () => {
  it('uses the __Host- prefix and Secure over https, the plain base over http', () => {
    expect(transactionCookieConfig('kakao_tx', 'https://app.example/auth/kakao/callback', TTL)).toEqual({
      base: '__Host-kakao_tx',
      secure: true,
      maxAgeMs: TTL,
    });
    expect(transactionCookieConfig('kakao_tx', 'http://localhost:3000/auth/kakao/callback', TTL)).toEqual({
      base: 'kakao_tx',
      secure: false,
      maxAgeMs: TTL,
    });
  });

  it('refuses a base name that would break the cookie header', () => {
    for (const bad of ['', 'a b', 'a;b', 'a=b', 'a.b', 'x'.repeat(33)]) {
      expect(() => transactionCookieConfig(bad, 'http://localhost/cb', TTL)).toThrow(TypeError);
    }
  });

  const http = transactionCookieConfig('kakao_tx', 'http://localhost:3000/auth/kakao/callback', TTL);
  const https = transactionCookieConfig('kakao_tx', 'https://app.example/auth/kakao/callback', TTL);

  it.each([
    ['/auth/kakao', '/auth/kakao/callback', '/auth/kakao'],
    ['/auth/kakao/start', '/auth/kakao/callback', '/auth/kakao'],
    ['/auth/kakao', '/auth/kakaox/callback', '/auth'],
    ['/login', '/auth/kakao/callback', '/'],
    ['/consent/email', '/auth/kakao/callback', '/'],
    ['/a/b/c', '/a/b/c', '/a/b/c'],
  ])('over http, start %s and callback %s share the path %s', (start, callback, path) => {
    expect(transactionCookiePath(http, start, callback)).toBe(path);
    // The path covers the callback, so the browser sends the cookie back there.
    expect(callback === path || callback.startsWith(path === '/' ? '/' : `${path}/`)).toBe(true);
  });

  it('the callback knows every path its cookie can have been set with (to clear one it cannot open)', () => {
    expect(possibleTransactionCookiePaths(http, '/auth/kakao/callback')).toEqual([
      '/auth/kakao/callback',
      '/auth/kakao',
      '/auth',
      '/',
    ]);
    expect(possibleTransactionCookiePaths(http, '/cb')).toEqual(['/cb', '/']);
    expect(possibleTransactionCookiePaths(https, '/auth/kakao/callback')).toEqual(['/']);
    // Whatever the start path, the path the start chose is among them.
    for (const start of ['/auth/kakao', '/auth/kakao/start', '/auth/other', '/consent/email', '/']) {
      expect(possibleTransactionCookiePaths(http, '/auth/kakao/callback')).toContain(
        transactionCookiePath(http, start, '/auth/kakao/callback'),
      );
    }
  });

  it('over https, the path is always / (the __Host- prefix requires it)', () => {
    expect(transactionCookiePath(https, '/auth/kakao', '/auth/kakao/callback')).toBe('/');
    expect(transactionCookiePath(https, '/a/b', '/a/b/callback')).toBe('/');
  });
});
