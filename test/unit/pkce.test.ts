import { createHash } from 'node:crypto';
import { createPkcePair, pkceChallenge, randomToken, safeEqual } from '../../lib/pkce';

const BASE64URL_43 = /^[A-Za-z0-9_-]{43}$/;

describe('randomToken', () => {
  it('returns 43 base64url characters (32 bytes) by default', () => {
    expect(randomToken()).toMatch(BASE64URL_43);
  });

  it('encodes the requested number of bytes without padding', () => {
    const token = randomToken(16);
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(16);
  });

  it('returns a different value on every call', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => randomToken()));
    expect(tokens.size).toBe(100);
  });

  it('rejects a byte count that is not a positive integer', () => {
    expect(() => randomToken(0)).toThrow(TypeError);
    expect(() => randomToken(1.5)).toThrow(TypeError);
    expect(() => randomToken(Number.NaN)).toThrow(TypeError);
  });
});

describe('createPkcePair', () => {
  it('creates 50 distinct verifiers and 50 distinct challenges', () => {
    const pairs = Array.from({ length: 50 }, () => createPkcePair());
    expect(new Set(pairs.map((p) => p.verifier)).size).toBe(50);
    expect(new Set(pairs.map((p) => p.challenge)).size).toBe(50);
  });

  it('creates a verifier of 43 characters from the base64url alphabet', () => {
    for (let i = 0; i < 50; i += 1) expect(createPkcePair().verifier).toMatch(BASE64URL_43);
  });

  it('derives the challenge as unpadded BASE64URL(SHA-256(verifier))', () => {
    const { verifier, challenge } = createPkcePair();
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64url'));
    expect(challenge).toMatch(BASE64URL_43);
  });

  it('matches the RFC 7636 appendix B example', () => {
    // The verifier is the base64url form of the 32 octets listed in appendix B; it is often misquoted.
    const octets = [
      116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214,
      191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    const verifier = Buffer.from(octets).toString('base64url');
    expect(verifier).toBe('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
    expect(pkceChallenge(verifier)).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
});

describe('safeEqual', () => {
  it('returns true for equal strings', () => {
    const token = randomToken();
    expect(safeEqual(token, `${token}`)).toBe(true);
  });

  it('returns false for strings that differ in one character', () => {
    expect(safeEqual('abcdef', 'abcdeg')).toBe(false);
  });

  it('returns false without throwing when the lengths differ', () => {
    expect(() => safeEqual('abc', 'abcd')).not.toThrow();
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
  });

  it('tells apart strings whose lone surrogates would collapse in UTF-8', () => {
    expect(safeEqual('\uD800', '\uD801')).toBe(false);
  });
});
