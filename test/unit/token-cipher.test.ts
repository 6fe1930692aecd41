import { randomBytes } from 'node:crypto';
import { TokenDecryptionError, TokenKeyUnknownError, isKakaoError } from '../../lib/errors';
import {
  createTokenCipher,
  generateKeyRing,
  parseKeyRing,
  type SealContext,
  type TokenCipherKey,
} from '../../lib/token-cipher';

const k1: TokenCipherKey = { kid: 'k1', key: randomBytes(32) };
const k2: TokenCipherKey = { kid: 'k2', key: randomBytes(32) };
const context: SealContext = { purpose: 'kakao-refresh', userId: '4213370001', sessionId: 'sess-A' };
const TOKEN = 'refresh-token-Zk3xQ9vB7nLp2Rt8Wm5Yc1Hd6Jf4Gs0A';

function expectDecryptionFailure(open: () => unknown): void {
  let caught: unknown;
  try {
    open();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TokenDecryptionError);
  const error = caught as TokenDecryptionError;
  expect(error.message).toBe('Token record could not be decrypted');
  expect(error.code).toBe('ERR_KAKAO_TOKEN_DECRYPTION');
  expect(error.cause).toBeUndefined();
  expect(isKakaoError(error)).toBe(true);
}

function expectConfigError(run: () => unknown, pattern: RegExp, secrets: readonly string[] = []): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TypeError);
  const error = caught as TypeError & { code?: string };
  expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
  expect(error.message).toMatch(pattern);
  for (const secret of secrets) expect(error.message).not.toContain(secret);
}

/** Flips the lowest bit of the first byte of one envelope part (0 = version … 4 = tag). */
function flipBit(sealed: string, part: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0] = bytes[0]! ^ 1;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

function replacePart(sealed: string, part: number, value: string): string {
  const parts = sealed.split('.');
  parts[part] = value;
  return parts.join('.');
}

describe('createTokenCipher', () => {
  const cipher = createTokenCipher({ keys: [k1] });

  it('opens what it sealed for the same context', () => {
    const sealed = cipher.seal(TOKEN, context);
    expect(cipher.open(sealed, context)).toEqual({ plaintext: TOKEN, stale: false });
  });

  it('round-trips the empty string and non-ASCII text', () => {
    for (const text of ['', '토큰 ✓ \u{1F511}']) {
      expect(cipher.open(cipher.seal(text, context), context).plaintext).toBe(text);
    }
  });

  it('writes the documented envelope without the plaintext in it', () => {
    const sealed = cipher.seal(TOKEN, context);
    const parts = sealed.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('kt1');
    expect(parts[1]).toBe('k1');
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(Buffer.byteLength(TOKEN));
    expect(Buffer.from(parts[4]!, 'base64url')).toHaveLength(16);
    expect(sealed).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(sealed).not.toContain(TOKEN);
    expect(sealed).not.toContain(Buffer.from(TOKEN).toString('base64url').slice(0, 12));
  });

  it('uses a fresh IV for every seal', () => {
    const envelopes = new Set<string>();
    const ivs = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const sealed = cipher.seal(TOKEN, context);
      envelopes.add(sealed);
      ivs.add(sealed.split('.')[2]!);
    }
    expect(envelopes.size).toBe(1000);
    expect(ivs.size).toBe(1000);
  });

  it('reports the first key of the ring as current', () => {
    expect(createTokenCipher({ keys: [k2, k1] }).currentKid).toBe('k2');
  });

  it('is not affected by later changes to the caller key buffer', () => {
    const key = Buffer.from(k1.key);
    const own = createTokenCipher({ keys: [{ kid: 'k1', key }] });
    const sealed = own.seal(TOKEN, context);
    key.fill(0);
    expect(own.open(sealed, context).plaintext).toBe(TOKEN);
    expect(cipher.open(own.seal(TOKEN, context), context).plaintext).toBe(TOKEN);
  });

  describe('fails closed with one fixed error', () => {
    const sealed = cipher.seal(TOKEN, context);
    const parts = sealed.split('.');

    it.each([
      ['a flipped bit in the IV', () => flipBit(sealed, 2)],
      ['a flipped bit in the ciphertext', () => flipBit(sealed, 3)],
      ['a flipped bit in the tag', () => flipBit(sealed, 4)],
      [
        'a tag truncated to 12 bytes',
        () =>
          replacePart(sealed, 4, Buffer.from(parts[4]!, 'base64url').subarray(0, 12).toString('base64url')),
      ],
      [
        'a tag truncated to 4 bytes',
        () =>
          replacePart(sealed, 4, Buffer.from(parts[4]!, 'base64url').subarray(0, 4).toString('base64url')),
      ],
      ['an IV of 16 bytes', () => replacePart(sealed, 2, randomBytes(16).toString('base64url'))],
      ['an extra part', () => `${sealed}.AAAA`],
      ['a missing part', () => parts.slice(0, 4).join('.')],
      ['the unknown version kt2', () => replacePart(sealed, 0, 'kt2')],
      ['a malformed kid', () => replacePart(sealed, 1, 'k!9')],
      ['an empty kid', () => replacePart(sealed, 1, '')],
      ['a kid longer than 16 characters', () => replacePart(sealed, 1, 'k'.repeat(17))],
      ['padding on the tag', () => replacePart(sealed, 4, `${parts[4]!}==`)],
      [
        'standard base64 characters',
        () => replacePart(sealed, 3, Buffer.from(parts[3]!, 'base64url').toString('base64')),
      ],
      ['a non-canonical last character in the tag', () => replacePart(sealed, 4, nonCanonical(parts[4]!))],
      ['the empty string', () => ''],
      ['garbage', () => 'not an envelope at all'],
      ['five empty parts', () => '....'],
      ['an oversized envelope', () => replacePart(sealed, 3, 'A'.repeat(70_000))],
    ])('rejects %s', (_name, tamper) => {
      expectDecryptionFailure(() => cipher.open(tamper(), context));
    });

    it.each([
      ['a number', 42],
      ['undefined', undefined],
      ['null', null],
      ['a Buffer', Buffer.from(sealed)],
    ])('rejects %s instead of a string', (_name, value) => {
      expectDecryptionFailure(() => cipher.open(value as unknown as string, context));
    });

    it('tells an unknown but well-formed kid apart from tampering (TokenKeyUnknownError, key not named)', () => {
      let caught: unknown;
      try {
        cipher.open(replacePart(sealed, 1, 'k9'), context);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TokenKeyUnknownError);
      expect(caught).not.toBeInstanceOf(TokenDecryptionError);
      const error = caught as TokenKeyUnknownError;
      expect(error.code).toBe('ERR_KAKAO_TOKEN_KEY_UNKNOWN');
      expect(isKakaoError(error, 'ERR_KAKAO_TOKEN_KEY_UNKNOWN')).toBe(true);
      expect(error.kid).toBe('k9');
      expect(error.message).toContain('"k9"');
      for (const secret of [k1.key.toString('base64'), k1.key.toString('hex'), parts[3]!, parts[4]!]) {
        expect(error.message).not.toContain(secret);
      }
    });

    it('rejects a record whose kid was swapped to another valid kid', () => {
      const ring = createTokenCipher({ keys: [k1, k2] });
      const record = ring.seal(TOKEN, context);
      expectDecryptionFailure(() => ring.open(replacePart(record, 1, 'k2'), context));
    });

    it('rejects a record sealed with a key of the same kid but other bytes', () => {
      const other = createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] });
      expectDecryptionFailure(() => cipher.open(other.seal(TOKEN, context), context));
    });

    it.each([
      ['another user', { ...context, userId: '4213370002' }],
      ['another session', { ...context, sessionId: 'sess-B' }],
      ['no session', { purpose: context.purpose, userId: context.userId }],
      ['another purpose', { ...context, purpose: 'kakao-access' }],
    ])('rejects a record copied to %s', (_name, otherContext) => {
      expectDecryptionFailure(() => cipher.open(sealed, otherContext));
    });

    it('keeps fields apart when they contain the separator', () => {
      const a = cipher.seal(TOKEN, { purpose: 'p', userId: 'a|b', sessionId: 'c' });
      expectDecryptionFailure(() => cipher.open(a, { purpose: 'p', userId: 'a', sessionId: 'b|c' }));
      expect(cipher.open(a, { purpose: 'p', userId: 'a|b', sessionId: 'c' }).plaintext).toBe(TOKEN);
    });
  });

  describe('key rotation', () => {
    it('opens a record of a retired key as stale and seals with the current key', () => {
      const old = createTokenCipher({ keys: [k1] });
      const record = old.seal(TOKEN, context);
      const rotated = createTokenCipher({ keys: [k2, k1] });
      expect(rotated.open(record, context)).toEqual({ plaintext: TOKEN, stale: true });
      const resealed = rotated.seal(TOKEN, context);
      expect(resealed.split('.')[1]).toBe('k2');
      expect(rotated.open(resealed, context)).toEqual({ plaintext: TOKEN, stale: false });
    });

    it('once the old key is removed from the ring, its records are "key unknown", not tampered', () => {
      const record = createTokenCipher({ keys: [k1] }).seal(TOKEN, context);
      expect(() => createTokenCipher({ keys: [k2] }).open(record, context)).toThrow(TokenKeyUnknownError);
    });

    it('phase 1 of a rotation: a ring with the new key decrypt-only opens values sealed by the new key', () => {
      const phase1 = createTokenCipher({ keys: [k1, k2] });
      const phase2 = createTokenCipher({ keys: [k2, k1] });
      const sealedByPhase2 = phase2.seal(TOKEN, context);
      expect(sealedByPhase2.split('.')[1]).toBe('k2');
      expect(phase1.open(sealedByPhase2, context)).toEqual({ plaintext: TOKEN, stale: true });
      expect(phase2.open(phase1.seal(TOKEN, context), context)).toEqual({ plaintext: TOKEN, stale: true });
    });
  });

  describe('configuration', () => {
    it('rejects a key of the wrong length with a teaching message', () => {
      const short = randomBytes(16);
      expectConfigError(
        () => createTokenCipher({ keys: [{ kid: 'k1', key: short }] }),
        /key "k1" must be 32 bytes \(got 16\); generate one with: node -e/,
        [short.toString('base64'), short.toString('hex')],
      );
    });

    it('rejects an empty ring', () => {
      expectConfigError(() => createTokenCipher({ keys: [] }), /non-empty array/);
    });

    it('refuses one kid twice, also apart in the ring, without naming a key', () => {
      const other = randomBytes(32);
      expectConfigError(
        () => createTokenCipher({ keys: [k1, { kid: 'k1', key: other }] }),
        /key id "k1" appears twice in the key ring/,
        [k1.key.toString('base64'), other.toString('base64'), other.toString('hex')],
      );
      expectConfigError(
        () =>
          createTokenCipher({
            keys: [k1, k2, { kid: 'k3', key: randomBytes(32) }, { kid: 'k2', key: other }],
          }),
        /key id "k2" appears twice/,
        [other.toString('base64')],
      );
    });

    it('refuses one key under two ids (a copy-paste rotation), naming both kids and not the key', () => {
      const copy = { kid: 'k2', key: Buffer.from(k1.key) };
      expectConfigError(
        () => createTokenCipher({ keys: [copy, k1] }),
        /keys "k2" and "k1" are the same key under two ids/,
        [k1.key.toString('base64'), k1.key.toString('base64url'), k1.key.toString('hex')],
      );
      expectConfigError(
        () => createTokenCipher({ keys: [k1, k2, { kid: 'k3', key: Buffer.from(k2.key) }] }),
        /keys "k2" and "k3" are the same key/,
      );
    });

    it('rejects a malformed kid without echoing it', () => {
      const keyText = randomBytes(32).toString('base64');
      expectConfigError(
        () => createTokenCipher({ keys: [{ kid: keyText, key: randomBytes(32) }] }),
        /kid must be 1–16 characters/,
        [keyText],
      );
      expectConfigError(() => createTokenCipher({ keys: [{ kid: 'a.b', key: randomBytes(32) }] }), /kid/);
    });

    it('rejects a key that is not a Buffer', () => {
      const keyText = randomBytes(32).toString('base64');
      expectConfigError(
        () => createTokenCipher({ keys: [{ kid: 'k1', key: keyText as unknown as Buffer }] }),
        /key "k1" must be a Buffer of 32 bytes \(got string\)/,
        [keyText],
      );
    });

    it('rejects unknown options', () => {
      expectConfigError(() => createTokenCipher({ keys: [k1], key: k1 } as never), /unknown option "key"/);
    });

    it('rejects an invalid context when sealing', () => {
      expectConfigError(() => cipher.seal(TOKEN, { purpose: '', userId: '1' }), /context.purpose/);
      expectConfigError(
        () => cipher.seal(TOKEN, { purpose: 'p', userId: 42 as unknown as string }),
        /context.userId/,
      );
      expectConfigError(
        () => cipher.seal(TOKEN, { purpose: 'p', sessionId: {} as unknown as string }),
        /context.sessionId/,
      );
      expectConfigError(() => cipher.seal(42 as unknown as string, context), /plaintext must be a string/);
    });

    it('treats an absent and an empty user or session id alike', () => {
      const sealed = cipher.seal(TOKEN, { purpose: 'p', userId: '', sessionId: '' });
      expect(cipher.open(sealed, { purpose: 'p' }).plaintext).toBe(TOKEN);
      expectDecryptionFailure(() => cipher.open(sealed, { purpose: 'p', userId: '1' }));
    });

    it('rejects a plaintext larger than 32 KiB', () => {
      expectConfigError(() => cipher.seal('x'.repeat(32 * 1024 + 1), context), /at most 32768 bytes/);
    });
  });
});

describe('TokenCipher.derive', () => {
  const parent = createTokenCipher({ keys: [k2, k1] });

  it('keeps the key ids and the current kid', () => {
    const derived = parent.derive('login-transaction');
    expect(derived.currentKid).toBe('k2');
    expect(derived.seal(TOKEN, context).split('.')[1]).toBe('k2');
  });

  it("never opens the parent's values, and the parent never opens a derived one", () => {
    const derived = parent.derive('login-transaction');
    // Same kid, same context: only the key differs, so this is an authentication failure.
    expectDecryptionFailure(() => derived.open(parent.seal(TOKEN, context), context));
    expectDecryptionFailure(() => parent.open(derived.seal(TOKEN, context), context));
    // Neither does a value of the retired key.
    const retired = createTokenCipher({ keys: [k1] });
    expectDecryptionFailure(() => derived.open(retired.seal(TOKEN, context), context));
  });

  it('gives different keys per label and the same keys for the same label (every process derives alike)', () => {
    const a = parent.derive('account-logout');
    const b = parent.derive('login-transaction');
    expectDecryptionFailure(() => a.open(b.seal(TOKEN, context), context));
    const elsewhere = createTokenCipher({ keys: [{ kid: 'k2', key: Buffer.from(k2.key) }, k1] }).derive(
      'account-logout',
    );
    expect(elsewhere.open(a.seal(TOKEN, context), context)).toEqual({ plaintext: TOKEN, stale: false });
  });

  it('rotates like its parent: a derived old-key value opens as stale, an unknown kid stays unknown', () => {
    const before = createTokenCipher({ keys: [k1] }).derive('x');
    expect(parent.derive('x').open(before.seal(TOKEN, context), context)).toEqual({
      plaintext: TOKEN,
      stale: true,
    });
    expect(() =>
      createTokenCipher({ keys: [k2] })
        .derive('x')
        .open(before.seal(TOKEN, context), context),
    ).toThrow(TokenKeyUnknownError);
  });

  it('refuses an empty label', () => {
    expectConfigError(() => parent.derive(''), /"label" must be a non-empty string/);
    expectConfigError(() => parent.derive(undefined as unknown as string), /"label"/);
  });
});

describe('parseKeyRing', () => {
  const b64 = (bytes: Buffer) => bytes.toString('base64');

  it('parses kids and keys in order, from base64 and base64url', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const ring = parseKeyRing(` k2:${b64(a)} , k1:${b.toString('base64url')}`);
    expect(ring.map((entry) => entry.kid)).toEqual(['k2', 'k1']);
    expect(ring[0]!.key.equals(a)).toBe(true);
    expect(ring[1]!.key.equals(b)).toBe(true);
    expect(createTokenCipher({ keys: ring }).currentKid).toBe('k2');
  });

  it('accepts unpadded standard base64', () => {
    const key = randomBytes(32);
    expect(parseKeyRing(`k1:${b64(key).replace(/=+$/, '')}`)[0]!.key.equals(key)).toBe(true);
  });

  it('rejects a key of the wrong length, naming the kid and not the key', () => {
    const keyText = b64(randomBytes(16));
    expectConfigError(
      () => parseKeyRing(`k1:${b64(randomBytes(32))},k2:${keyText}`),
      /key "k2" must be 32 bytes \(got 16\); generate one with: node -e/,
      [keyText],
    );
  });

  it('rejects a key that is not base64', () => {
    const keyText = `${b64(randomBytes(30))}!?`;
    expectConfigError(() => parseKeyRing(`k1:${keyText}`), /key "k1" is not valid base64/, [keyText]);
  });

  it('explains that a hex key must be converted', () => {
    const keyText = randomBytes(32).toString('hex');
    expectConfigError(() => parseKeyRing(`k1:${keyText}`), /key "k1" looks like hex/, [keyText]);
  });

  it('rejects a duplicate kid', () => {
    const keyText = b64(randomBytes(32));
    expectConfigError(
      () => parseKeyRing(`k1:${b64(randomBytes(32))},k1:${keyText}`),
      /key id "k1" appears twice/,
      [keyText],
    );
  });

  it('rejects a duplicate kid apart in the ring', () => {
    expectConfigError(
      () => parseKeyRing(`k1:${b64(randomBytes(32))},k2:${b64(randomBytes(32))},k1:${b64(randomBytes(32))}`),
      /key id "k1" appears twice/,
    );
  });

  it('a ring with one key under two ids is refused at start-up (parseKeyRing, then createTokenCipher)', () => {
    const key = randomBytes(32);
    // The same bytes written once as base64 and once as base64url are still one key.
    for (const spec of [`k2:${b64(key)},k1:${b64(key)}`, `k2:${b64(key)},k1:${key.toString('base64url')}`]) {
      expectConfigError(
        () => createTokenCipher({ keys: parseKeyRing(spec) }),
        /keys "k2" and "k1" are the same key under two ids/,
        [b64(key), key.toString('base64url'), key.toString('hex')],
      );
    }
  });

  it('rejects an empty ring', () => {
    expectConfigError(() => parseKeyRing(''), /key ring is empty/);
    expectConfigError(() => parseKeyRing('   '), /key ring is empty/);
  });

  it('rejects an empty entry', () => {
    expectConfigError(() => parseKeyRing(`k1:${b64(randomBytes(32))},`), /entry 2 is empty/);
  });

  it('rejects a bare key without echoing it', () => {
    const keyText = b64(randomBytes(32));
    expectConfigError(() => parseKeyRing(keyText), /entry 1 has no "kid:"/, [keyText]);
  });

  it('rejects an entry written key-first without echoing the key', () => {
    const keyText = b64(randomBytes(32)).replace(/=+$/, '');
    expectConfigError(() => parseKeyRing(`${keyText}:k1`), /entry 1 has an invalid key id/, [keyText]);
  });

  it('rejects a missing key after the colon', () => {
    expectConfigError(() => parseKeyRing('k1:'), /key "k1" has no key/);
  });

  it('rejects a value that is not a string', () => {
    expectConfigError(
      () => parseKeyRing(undefined as unknown as string),
      /must be a string \(got undefined\)/,
    );
  });
});

describe('generateKeyRing', () => {
  it('returns one random 32-byte key with kid "dev"', () => {
    const [first, ...rest] = generateKeyRing();
    expect(rest).toEqual([]);
    expect(first!.kid).toBe('dev');
    expect(first!.key).toHaveLength(32);
    expect(first!.key.equals(generateKeyRing()[0]!.key)).toBe(false);
    const cipher = createTokenCipher({ keys: [first!] });
    expect(cipher.open(cipher.seal(TOKEN, context), context).plaintext).toBe(TOKEN);
  });
});

/**
 * Changes the unused low bits of the last character: Node decodes both texts to the same bytes, so
 * only a canonical-encoding check tells them apart.
 */
function nonCanonical(part: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(part.at(-1)!);
  const changed = `${part.slice(0, -1)}${alphabet[last ^ 1]}`;
  expect(Buffer.from(changed, 'base64url').equals(Buffer.from(part, 'base64url'))).toBe(true);
  return changed;
}
