import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { TokenDecryptionError, TokenKeyUnknownError } from '../../lib/errors';
import { createTokenCipher, type SealContext } from '../../lib/token-cipher';
import { configureFuzzing, hostileString } from './fuzz-config';

configureFuzzing();

const current = { kid: 'k2', key: randomBytes(32) };
const retired = { kid: 'k1', key: randomBytes(32) };
const cipher = createTokenCipher({ keys: [current, retired] });
const oldCipher = createTokenCipher({ keys: [retired] });
const context: SealContext = { purpose: 'kakao-tokens', userId: '4120937465', sessionId: 'sess-1' };
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Calls open and reports the outcome; anything but success, TokenDecryptionError or (for a well-formed
 * kid the ring does not hold, and only then) TokenKeyUnknownError fails the test.
 */
function tryOpen(
  sealed: unknown,
  ctx: SealContext = context,
): { plaintext: string; stale: boolean } | 'refused' {
  try {
    return cipher.open(sealed as string, ctx);
  } catch (error) {
    if (error instanceof TokenKeyUnknownError) {
      // Not tampering but a key of another process: only for an otherwise well-formed envelope.
      const parts = (sealed as string).split('.');
      expect(parts).toHaveLength(5);
      expect(parts[0]).toBe('kt1');
      expect(error.kid).toBe(parts[1]);
      expect(error.kid).toMatch(/^[A-Za-z0-9_-]{1,16}$/);
      expect(['k1', 'k2']).not.toContain(error.kid);
      return 'refused';
    }
    expect(error).toBeInstanceOf(TokenDecryptionError);
    const { message, cause } = error as TokenDecryptionError;
    // One fixed, content-free error: nothing tells an attacker which check failed.
    expect(message).toBe(new TokenDecryptionError().message);
    expect(cause).toBeUndefined();
    return 'refused';
  }
}

/** Strings shaped like envelopes: five dot-separated parts from plausible alphabets. */
const envelopeLike: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('kt1', 'kt2', 'KT1', '', 'kt1 '),
    fc.constantFrom('k1', 'k2', 'k3', '', '__proto__'),
    fc.string({ unit: fc.constantFrom(...B64URL, '=', '+', '/'), maxLength: 24 }),
    fc.string({ unit: fc.constantFrom(...B64URL), maxLength: 60 }),
    fc.string({ unit: fc.constantFrom(...B64URL, '='), maxLength: 30 }),
    fc.integer({ min: 3, max: 7 }),
  )
  .map(([version, kid, iv, body, tag, parts]) =>
    [version, kid, iv, body, tag, 'x', 'y'].slice(0, parts).join('.'),
  );

/** Changes one character of `text` at `index` to `replacement` (which differs). */
function mutate(text: string, index: number, replacement: string): string {
  const i = index % text.length;
  return text.slice(0, i) + replacement + text.slice(i + 1);
}

describe('TokenCipher.open on generated input', () => {
  test('refuses arbitrary strings and non-strings with the one fixed TokenDecryptionError (or key unknown)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          envelopeLike,
          hostileString(),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.anything().filter((value) => typeof value !== 'string'),
        ),
        (sealed) => {
          expect(tryOpen(sealed)).toBe('refused');
        },
      ),
    );
  });

  test('round-trips any text, and flags records of the retired key as stale', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.boolean(), (plaintext, old) => {
        const sealed = (old ? oldCipher : cipher).seal(plaintext, context);
        expect(tryOpen(sealed)).toEqual({ plaintext, stale: old });
      }),
    );
  });

  test('refuses an envelope with any single character changed', () => {
    const sealed = cipher.seal('{"a":"access","r":"refresh","e":1,"x":2}', context);
    fc.assert(
      fc.property(
        fc.nat(),
        fc.constantFrom(...B64URL, '.', '=', '+', '/', ' ', '\u0000', 'é'),
        (index, char) => {
          const changed = mutate(sealed, index, char);
          fc.pre(changed !== sealed);
          expect(tryOpen(changed)).toBe('refused');
        },
      ),
    );
  });

  test('refuses envelopes that were truncated, extended, re-padded or had parts swapped', () => {
    const sealed = cipher.seal('refresh-token-value', context);
    const parts = sealed.split('.');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: sealed.length - 1 }).map((n) => sealed.slice(0, n)),
          fc.string({ minLength: 1, maxLength: 4 }).map((suffix) => sealed + suffix),
          fc.integer({ min: 2, max: 4 }).map((i) => parts.map((p, j) => (j === i ? `${p}=` : p)).join('.')),
          fc
            .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }))
            .filter(([a, b]) => parts[a] !== parts[b])
            .map(([a, b]) => parts.map((p, j) => (j === a ? parts[b] : j === b ? parts[a] : p)).join('.')),
        ),
        (changed) => {
          fc.pre(changed !== sealed);
          expect(tryOpen(changed)).toBe('refused');
        },
      ),
    );
  });

  test('never opens a record for another user, session or purpose', () => {
    const sealed = cipher.seal('refresh-token-value', context);
    fc.assert(
      fc.property(
        fc.record({
          purpose: fc.constantFrom('kakao-tokens', 'kakao-refresh', 'kakao-tokens|'),
          userId: fc.oneof(
            fc.constantFrom('4120937465', '4120937466', '4120937465|sess-1'),
            fc.string({ minLength: 1 }),
          ),
          sessionId: fc.oneof(fc.constantFrom('sess-1', 'sess-2', '', '|sess-1'), fc.string()),
        }),
        (other) => {
          fc.pre(
            other.purpose !== context.purpose ||
              other.userId !== context.userId ||
              other.sessionId !== context.sessionId,
          );
          expect(tryOpen(sealed, other)).toBe('refused');
        },
      ),
    );
  });
});
