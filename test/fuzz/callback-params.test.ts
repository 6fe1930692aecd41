import fc from 'fast-check';
import { CALLBACK_LIMITS, parseCallbackParams, type CallbackParamProblem } from '../../lib/callback-params';
import { configureFuzzing, hostileString } from './fuzz-config';

configureFuzzing();

const ISSUER = 'https://kauth.kakao.com';
const PROBLEMS: readonly CallbackParamProblem[] = [
  'missing_state',
  'invalid_state',
  'missing_code',
  'invalid_code',
  'invalid_error',
  'invalid_iss',
  'unexpected_parameter',
  'ambiguous',
];
const STATE_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${CALLBACK_LIMITS.stateMaxLength}}$`);
const CODE_PATTERN = new RegExp(`^[A-Za-z0-9._~+/=-]{1,${CALLBACK_LIMITS.codeMaxLength}}$`);
const FORBIDDEN = ['access_token', 'id_token', 'token_type'];
const NAMES = ['state', 'code', 'error', 'iss', ...FORBIDDEN, 'error_description', 'error_uri', 'x'];

const STATE_CHARS = 'ABCXYZabcxyz0189_-';
const CODE_CHARS = `${STATE_CHARS}.~+/=`;
const ERROR_CHARS = 'abcz_';

/** A well-formed value drawn from an alphabet, sometimes one character too long. */
function fromAlphabet(chars: string, max: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: fc.constantFrom(...chars), minLength: 1, maxLength: Math.min(max, 64) }),
    fc.constantFrom(chars[0]!.repeat(max), chars[0]!.repeat(max + 1)),
  );
}

/** What a query parser (simple, extended, or a hand-made one) could put in one parameter. */
const parameterValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fromAlphabet(STATE_CHARS, CALLBACK_LIMITS.stateMaxLength) },
  { weight: 3, arbitrary: fromAlphabet(CODE_CHARS, CALLBACK_LIMITS.codeMaxLength) },
  { weight: 2, arbitrary: fromAlphabet(ERROR_CHARS, 64) },
  { weight: 2, arbitrary: hostileString(6) },
  { weight: 1, arbitrary: fc.constant(ISSUER) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('$ne', '$gt', '0', 'toString'), fc.string()) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
);

/** A callback Kakao could send: a state plus a code or an error, sometimes with an iss. */
const plausibleQuery: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    state: fromAlphabet(STATE_CHARS, CALLBACK_LIMITS.stateMaxLength),
    code: fromAlphabet(CODE_CHARS, CALLBACK_LIMITS.codeMaxLength),
    error: fromAlphabet(ERROR_CHARS, 64),
    iss: fc.constant(ISSUER),
  },
  { requiredKeys: ['state'] },
);

/**
 * A query object: a plausible callback or a random subset of the interesting names (and others),
 * overlaid with random values, as an ordinary or a null-prototype object.
 */
const queryObject: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.oneof(plausibleQuery, fc.constant({})),
    fc.dictionary(fc.constantFrom(...NAMES), parameterValue, { maxKeys: NAMES.length }),
    fc.dictionary(fc.string({ maxLength: 10 }), parameterValue, { maxKeys: 3 }),
    fc.boolean(),
  )
  .map(([base, known, extra, nullPrototype]) => {
    const query: Record<string, unknown> = nullPrototype ? Object.create(null) : {};
    // defineProperty, so that a generated "__proto__" key is an own property as a query parser makes it.
    for (const [name, value] of Object.entries({ ...extra, ...known, ...base })) {
      Object.defineProperty(query, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return query;
  });

function own(query: object, name: string): unknown {
  return Object.getOwnPropertyDescriptor(query, name)?.value;
}

describe('parseCallbackParams on generated queries', () => {
  test('never throws and always answers one of the documented shapes', () => {
    fc.assert(
      fc.property(fc.oneof(queryObject, fc.anything()), fc.option(fc.constant(ISSUER)), (query, issuer) => {
        const result = parseCallbackParams(query, issuer === null ? {} : { issuer });
        if (!result.ok) {
          expect(PROBLEMS).toContain(result.reason);
          expect(Object.keys(result).sort()).toEqual(['ok', 'reason']);
          return;
        }
        expect(typeof result.state).toBe('string');
        expect((result.code === undefined) !== (result.error === undefined)).toBe(true);
      }),
    );
  });

  test('accepts only own string values in their alphabets, exactly as given, and never with a token parameter', () => {
    let accepted = 0;
    let runs = 0;
    fc.assert(
      fc.property(queryObject, (query) => {
        runs += 1;
        const result = parseCallbackParams(query, { issuer: ISSUER });
        if (!result.ok) return;
        accepted += 1;
        expect(result.state).toBe(own(query, 'state'));
        expect(result.state).toMatch(STATE_PATTERN);
        for (const name of FORBIDDEN) expect(own(query, name)).toBeUndefined();
        const iss = own(query, 'iss');
        if (iss !== undefined) expect(iss).toBe(ISSUER);
        if (result.code !== undefined) {
          expect(result.code).toBe(own(query, 'code'));
          expect(result.code).toMatch(CODE_PATTERN);
          expect(own(query, 'error')).toBeUndefined();
        } else {
          expect(result.error).toBe(own(query, 'error'));
          expect(result.error).toMatch(/^[a-z_]{1,64}$/);
          expect(own(query, 'code')).toBeUndefined();
        }
        // Nothing attacker-written beyond the checked values comes back.
        expect(Object.keys(result).sort()).toEqual(
          result.code !== undefined ? ['code', 'ok', 'state'] : ['error', 'ok', 'state'],
        );
      }),
    );
    // The generator must reach the accepting branch often enough for this property to mean something.
    expect(accepted).toBeGreaterThan(runs / 100);
  });

  test('accepts every well-formed code callback, whatever else is in the query', () => {
    fc.assert(
      fc.property(
        fromAlphabet(STATE_CHARS, CALLBACK_LIMITS.stateMaxLength),
        fromAlphabet(CODE_CHARS, CALLBACK_LIMITS.codeMaxLength),
        fc.dictionary(fc.constantFrom('error_description', 'error_uri', 'x', 'scope'), parameterValue),
        (state, code, extra) => {
          const expectOk =
            state.length <= CALLBACK_LIMITS.stateMaxLength && code.length <= CALLBACK_LIMITS.codeMaxLength;
          const result = parseCallbackParams({ ...extra, state, code });
          expect(result).toEqual(
            expectOk
              ? { ok: true, state, code }
              : {
                  ok: false,
                  reason: state.length > CALLBACK_LIMITS.stateMaxLength ? 'invalid_state' : 'invalid_code',
                },
          );
        },
      ),
    );
  });

  test('an inherited or getter-defined parameter never counts', () => {
    fc.assert(
      fc.property(
        fromAlphabet(STATE_CHARS, 43),
        fromAlphabet(CODE_CHARS, 43),
        fc.constantFrom('prototype', 'getter'),
        (state, code, how) => {
          let query: object;
          let reads = 0;
          if (how === 'prototype') {
            query = Object.create({ state, code }) as object;
          } else {
            query = {};
            for (const [name, value] of [
              ['state', state],
              ['code', code],
            ] as const) {
              Object.defineProperty(query, name, {
                enumerable: true,
                get: () => {
                  reads += 1;
                  return value;
                },
              });
            }
          }
          expect(parseCallbackParams(query)).toEqual({ ok: false, reason: 'missing_state' });
          expect(reads).toBe(0);
        },
      ),
    );
  });
});
