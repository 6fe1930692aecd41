import { parse as parseQueryString } from 'node:querystring';
import { CALLBACK_LIMITS, parseCallbackParams } from '../../lib/callback-params';

const STATE = 'Qx3vN1b7m0-_aZ9kLpR2sT4uV6wX8yA0cE2gI4kM6oQ';
const CODE = 'Yq3Fk8_zz-abc.DEF~12+/=';
const ISSUER = 'https://kauth.kakao.com';

/** What Express 5's default ("simple") query parser produces: a null-prototype object. */
function simple(query: string): unknown {
  return parseQueryString(query);
}

describe('parseCallbackParams', () => {
  describe('accepts', () => {
    it('a code with its state', () => {
      expect(parseCallbackParams(simple(`code=${encodeURIComponent(CODE)}&state=${STATE}`))).toEqual({
        ok: true,
        state: STATE,
        code: CODE,
      });
    });

    it('an error with its state', () => {
      expect(parseCallbackParams({ error: 'access_denied', state: STATE })).toEqual({
        ok: true,
        state: STATE,
        error: 'access_denied',
      });
    });

    it('a code and a state at their maximum lengths', () => {
      const state = 's'.repeat(CALLBACK_LIMITS.stateMaxLength);
      const code = 'c'.repeat(CALLBACK_LIMITS.codeMaxLength);
      expect(parseCallbackParams({ code, state })).toEqual({ ok: true, state, code });
    });

    it('an iss equal to the configured issuer', () => {
      expect(parseCallbackParams({ code: CODE, state: STATE, iss: ISSUER }, { issuer: ISSUER })).toEqual({
        ok: true,
        state: STATE,
        code: CODE,
      });
    });

    it('unknown parameters, which it ignores', () => {
      expect(parseCallbackParams({ code: CODE, state: STATE, utm_source: ['a', 'b'], x: { y: 1 } })).toEqual({
        ok: true,
        state: STATE,
        code: CODE,
      });
    });
  });

  it('never returns error_description or error_uri', () => {
    const result = parseCallbackParams(
      simple(`error=access_denied&state=${STATE}&error_description=%3Cscript%3E&error_uri=https://evil.com`),
    );
    expect(result).toEqual({ ok: true, state: STATE, error: 'access_denied' });
    expect(JSON.stringify(result)).not.toMatch(/script|evil/);
  });

  it('ignores error_description even when it is malformed', () => {
    expect(
      parseCallbackParams({ error: 'access_denied', state: STATE, error_description: { a: 1 } }).ok,
    ).toBe(true);
  });

  describe('state', () => {
    it.each<[string, unknown]>([
      ['missing', { code: CODE }],
      ['missing next to an error', { error: 'access_denied' }],
      ['missing when the query is not an object', 'state=x'],
      ['missing when the query is null', null],
      ['missing when only inherited', Object.create({ state: STATE, code: CODE }) as unknown],
    ])('is reported %s', (_name, query) => {
      expect(parseCallbackParams(query)).toEqual({ ok: false, reason: 'missing_state' });
    });

    it.each<[string, unknown]>([
      ['repeated (simple parser)', simple(`code=${CODE}&state=${STATE}&state=${STATE}`)],
      ['an array (state[]=)', { code: CODE, state: [STATE] }],
      ['an object (state[$ne]=)', { code: CODE, state: { $ne: 'x' } }],
      ['a number', { code: CODE, state: 42 }],
      ['empty', simple(`code=${CODE}&state=`)],
      ['longer than 128 characters', { code: CODE, state: 's'.repeat(129) }],
      ['outside the base64url alphabet', { code: CODE, state: `${STATE}.` }],
      ['containing a space', { code: CODE, state: 'a b' }],
      ['containing a newline', { code: CODE, state: 'ab\n' }],
      ['invalid next to an error', { error: 'access_denied', state: ['a', 'b'] }],
    ])('is rejected when %s', (_name, query) => {
      expect(parseCallbackParams(query)).toEqual({ ok: false, reason: 'invalid_state' });
    });

    it('is never converted with String()', () => {
      const hostile = { toString: () => STATE, [Symbol.toPrimitive]: () => STATE };
      expect(parseCallbackParams({ code: CODE, state: hostile })).toEqual({
        ok: false,
        reason: 'invalid_state',
      });
    });

    it('is not read through a getter', () => {
      const query = { code: CODE };
      Object.defineProperty(query, 'state', { enumerable: true, get: () => STATE });
      expect(parseCallbackParams(query)).toEqual({ ok: false, reason: 'missing_state' });
    });
  });

  describe('code', () => {
    it('is required when there is no error', () => {
      expect(parseCallbackParams({ state: STATE })).toEqual({ ok: false, reason: 'missing_code' });
    });

    it.each<[string, unknown]>([
      ['repeated (simple parser)', simple(`code=a&code=b&state=${STATE}`)],
      ['an array (code[]=)', { code: ['a'], state: STATE }],
      ['an object (code[a]=b)', { code: { a: 'b' }, state: STATE }],
      ['a number', { code: 123, state: STATE }],
      ['empty', simple(`code=&state=${STATE}`)],
      ['longer than 512 characters', { code: 'c'.repeat(513), state: STATE }],
      ['outside its alphabet', { code: 'abc<script>', state: STATE }],
      ['containing a control character', { code: 'abc\r\nx', state: STATE }],
    ])('is rejected when %s', (_name, query) => {
      expect(parseCallbackParams(query)).toEqual({ ok: false, reason: 'invalid_code' });
    });
  });

  describe('error', () => {
    it.each<[string, unknown]>([
      ['repeated', simple(`error=access_denied&error=access_denied&state=${STATE}`)],
      ['an object', { error: { a: 'b' }, state: STATE }],
      ['a number', { error: 1, state: STATE }],
      ['empty', simple(`error=&state=${STATE}`)],
      ['upper case', { error: 'ACCESS_DENIED', state: STATE }],
      ['outside [a-z_]', { error: 'access-denied<b>', state: STATE }],
      ['longer than 64 characters', { error: 'a'.repeat(65), state: STATE }],
    ])('is rejected when %s', (_name, query) => {
      expect(parseCallbackParams(query)).toEqual({ ok: false, reason: 'invalid_error' });
    });

    it('together with a code is ambiguous', () => {
      expect(parseCallbackParams({ code: CODE, error: 'access_denied', state: STATE })).toEqual({
        ok: false,
        reason: 'ambiguous',
      });
    });

    it('together with an empty code is still ambiguous', () => {
      expect(parseCallbackParams(simple(`code=&error=access_denied&state=${STATE}`))).toEqual({
        ok: false,
        reason: 'ambiguous',
      });
    });
  });

  describe('iss', () => {
    it.each<[string, unknown, { issuer?: string }]>([
      [
        'differs from the issuer',
        { code: CODE, state: STATE, iss: 'https://evil.example' },
        { issuer: ISSUER },
      ],
      ['differs by a trailing slash', { code: CODE, state: STATE, iss: `${ISSUER}/` }, { issuer: ISSUER }],
      ['is repeated', { code: CODE, state: STATE, iss: [ISSUER, ISSUER] }, { issuer: ISSUER }],
      ['is an object', { code: CODE, state: STATE, iss: { a: ISSUER } }, { issuer: ISSUER }],
      ['is empty', { code: CODE, state: STATE, iss: '' }, { issuer: ISSUER }],
      ['is sent but no issuer is configured', { code: CODE, state: STATE, iss: ISSUER }, {}],
      ['comes with an error', { error: 'access_denied', state: STATE, iss: 'x' }, { issuer: ISSUER }],
    ])('is rejected when it %s', (_name, query, options) => {
      expect(parseCallbackParams(query, options)).toEqual({ ok: false, reason: 'invalid_iss' });
    });
  });

  describe('implicit-flow leftovers', () => {
    it.each(['access_token', 'id_token', 'token_type'])('%s in the query rejects the callback', (name) => {
      expect(parseCallbackParams({ code: CODE, state: STATE, [name]: 'x' })).toEqual({
        ok: false,
        reason: 'unexpected_parameter',
      });
    });

    it('an empty access_token still rejects the callback', () => {
      expect(parseCallbackParams(simple(`code=${CODE}&state=${STATE}&access_token=`))).toEqual({
        ok: false,
        reason: 'unexpected_parameter',
      });
    });
  });

  it('exports its length caps', () => {
    expect(CALLBACK_LIMITS).toEqual({ stateMaxLength: 128, codeMaxLength: 512 });
  });
});
