import fc from 'fast-check';
import { DEFAULT_RESERVED_PREFIXES, sanitizeReturnTo } from '../../lib/return-to';
import { configureFuzzing, hostileString } from './fuzz-config';

configureFuzzing();

const ORIGIN = 'https://app.example';
const CALLBACK = `${ORIGIN}/auth/kakao/callback`;
const RESERVED = [...DEFAULT_RESERVED_PREFIXES, '/auth/kakao', '/auth/kakao/callback', '/logout'];
const options = { origin: ORIGIN, reservedPrefixes: RESERVED };

/** Candidates: hostile fragments, paths that look fine, URLs, and plain noise. */
const candidate: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: hostileString() },
  { weight: 2, arbitrary: hostileString(6).map((rest) => `/${rest}`) },
  { weight: 2, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('/a'.repeat(1024), `/${'a'.repeat(2047)}`, `/${'a'.repeat(2048)}`),
  },
);

/** Where a browser that follows `Location: value` from the callback ends up. */
function followed(value: string): URL {
  return new URL(value, CALLBACK);
}

function isReservedPath(pathname: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname).toLowerCase();
  } catch {
    return true;
  }
  return RESERVED.some((prefix) => decoded === prefix || decoded.startsWith(`${prefix}/`));
}

describe('sanitizeReturnTo on generated input', () => {
  test('returns either the input unchanged or "/", never throwing', () => {
    fc.assert(
      fc.property(candidate, (value) => {
        const result = sanitizeReturnTo(value, options);
        expect([value, '/']).toContain(result);
      }),
    );
  });

  test('never produces a redirect that leaves the origin, in any URL parser reading', () => {
    let kept = 0;
    let runs = 0;
    fc.assert(
      fc.property(candidate, (value) => {
        runs += 1;
        const result = sanitizeReturnTo(value, options);
        if (result !== '/') kept += 1;
        expect(result.startsWith('/')).toBe(true);
        expect(result.startsWith('//')).toBe(false);
        // eslint-disable-next-line no-control-regex -- control characters are what must not get through
        expect(result).not.toMatch(/[\\\x00-\x1f\x7f]/);
        expect(followed(result).origin).toBe(ORIGIN);
        // Browsers strip tabs and newlines before parsing; after one more decoding a later hop could
        // make of it, it must still be a single-slash path.
        const decoded = decodeURIComponent(result);
        expect(decoded.startsWith('//') || decoded.startsWith('/\\')).toBe(false);
        expect(followed(decoded.replace(/[\t\n\r]/g, '')).origin).toBe(ORIGIN);
      }),
    );
    expect(kept).toBeGreaterThan(runs / 20);
  });

  test('never sends the user back into the login, logout or webhook routes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          candidate,
          fc
            .tuple(fc.constantFrom(...RESERVED), hostileString(4), fc.boolean())
            .map(([prefix, rest, upper]) => `${upper ? prefix.toUpperCase() : prefix}${rest}`),
        ),
        (value) => {
          const result = sanitizeReturnTo(value, options);
          if (result === '/') return;
          expect(isReservedPath(followed(result).pathname)).toBe(false);
        },
      ),
    );
  });

  test('is idempotent, as the second check right before the redirect requires', () => {
    fc.assert(
      fc.property(candidate, (value) => {
        const once = sanitizeReturnTo(value, options);
        expect(sanitizeReturnTo(once, options)).toBe(once);
      }),
    );
  });

  test('answers "/" for anything that is not a string', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((value) => typeof value !== 'string'),
        (value) => {
          expect(sanitizeReturnTo(value, options)).toBe('/');
        },
      ),
    );
  });

  test('keeps ordinary same-origin paths with their query strings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 5 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.stringMatching(/^[a-z0-9]{0,6}$/)),
        (segments, query) => {
          fc.pre(!['auth', 'logout', 'webhooks'].includes(segments[0]!));
          const search = new URLSearchParams(query).toString();
          const value = `/${segments.join('/')}${search ? `?${search}` : ''}`;
          expect(sanitizeReturnTo(value, options)).toBe(value);
        },
      ),
    );
  });
});
