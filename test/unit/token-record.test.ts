/** The sealed token record's plaintext: compact tab-separated fields, JSON when a token holds a tab. */
import { TokenDecryptionError } from '../../lib/errors';
import { encodeRecord, parseRecord, toTokens, type TokenRecord } from '../../lib/token-record';

const ACCESS = 'Zx8kQ2m-_aB3'.repeat(4) + 'AbCdEf';
const REFRESH = 'Rt9-_Yz0pQ1w'.repeat(4) + 'GhIjKl';
const FULL: TokenRecord = {
  a: ACCESS,
  r: REFRESH,
  e: 1_796_180_000,
  x: 1_801_360_000,
  b: 1_796_220_000,
  i: 'h.p.s',
};

test('a full record round-trips through six tab-separated fields, numbers in base 36', () => {
  const text = encodeRecord(FULL);
  expect(text.split('\t')).toEqual([
    ACCESS,
    REFRESH,
    (1_796_180_000).toString(36),
    (1_801_360_000).toString(36),
    (1_796_220_000).toString(36),
    'h.p.s',
  ]);
  expect(parseRecord(text)).toEqual(FULL);
});

test('absent fields stay absent, and the plaintext is smaller than JSON', () => {
  const minimal: TokenRecord = { a: ACCESS, r: REFRESH, x: 1_801_360_000 };
  expect(parseRecord(encodeRecord(minimal))).toEqual(minimal);
  expect(encodeRecord(FULL).length).toBeLessThan(JSON.stringify(FULL).length - 20);
});

test('a token that contains a tab (or looks like JSON) is sealed as JSON and read back', () => {
  for (const odd of [
    { ...FULL, a: 'with\ttab' },
    { ...FULL, r: 'x\ty' },
    { ...FULL, a: '{"looks":"json"}' },
  ]) {
    const text = encodeRecord(odd);
    expect(text.startsWith('{')).toBe(true);
    expect(parseRecord(text)).toEqual(odd);
  }
});

test('toTokens gives epoch ms and no scope', () => {
  expect(toTokens(FULL)).toEqual({
    accessToken: ACCESS,
    refreshToken: REFRESH,
    accessTokenExpiresAt: 1_796_180_000_000,
    refreshTokenExpiresAt: 1_801_360_000_000,
    idToken: 'h.p.s',
  });
});

test.each([
  ['five fields', [ACCESS, REFRESH, '', 'tsz', ''].join('\t')],
  ['seven fields', [ACCESS, REFRESH, '', 'tsz', '', '', ''].join('\t')],
  ['no access token', ['', REFRESH, '', 'tsz', '', ''].join('\t')],
  ['no refresh token', [ACCESS, '', '', 'tsz', '', ''].join('\t')],
  ['no refresh expiry', [ACCESS, REFRESH, '', '', '', ''].join('\t')],
  ['an expiry that is not base 36', [ACCESS, REFRESH, '', 'TS-Z', '', ''].join('\t')],
  ['an overlong number', [ACCESS, REFRESH, 'z'.repeat(12), 'tsz', '', ''].join('\t')],
  ['JSON without tokens', '{"x":1}'],
  ['JSON with a string expiry', JSON.stringify({ a: ACCESS, r: REFRESH, x: '1' })],
  ['broken JSON', '{"a":'],
  ['JSON null', 'null'],
])('%s is no record (TokenDecryptionError)', (_name, text) => {
  expect(() => parseRecord(text)).toThrow(TokenDecryptionError);
});
