import fc from 'fast-check';
import { KakaoResponseError } from '../../lib/errors';
import { parseJsonExactIntegers } from '../../lib/json';
import { parseProfile, type KakaoProfile } from '../../lib/profile';
import { configureFuzzing, hostileString } from './fuzz-config';

configureFuzzing();

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const CONSENT_SCOPES = [
  'profile_nickname',
  'profile_image',
  'account_email',
  'name',
  'age_range',
  'birthyear',
  'birthday',
  'gender',
  'phone_number',
  'account_ci',
  'profile',
];

/** A JSON value tree whose integer leaves are BigInts, so that the exact literal is known. */
type Tree = null | boolean | string | number | bigint | Tree[] | { [key: string]: Tree };

const treeArbitrary: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.bigInt({ min: MAX_SAFE - 3n, max: MAX_SAFE + 3n }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.oneof(fc.string(), fc.stringMatching(/^-?\d{1,25}$/), hostileString(4)),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.stringMatching(/^\d{1,20}$/)), tie('tree'), {
      maxKeys: 4,
    }),
  ),
})).tree;

const whitespace = fc.constantFrom('', ' ', '\n', '\t ', '\r\n');

/** Serializes a tree with BigInts as bare integer literals and random whitespace between tokens. */
function serialize(tree: Tree, ws: () => string): string {
  if (typeof tree === 'bigint') return tree.toString();
  if (Array.isArray(tree))
    return `[${ws()}${tree.map((t) => serialize(t, ws)).join(`${ws()},${ws()}`)}${ws()}]`;
  if (tree !== null && typeof tree === 'object') {
    const members = Object.entries(tree).map(
      ([k, v]) => `${JSON.stringify(k)}${ws()}:${ws()}${serialize(v, ws)}`,
    );
    return `{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}`;
  }
  return JSON.stringify(tree);
}

/** What the parser must return for a tree: unsafe integer literals as exact strings, the rest as JSON.parse. */
function expected(tree: Tree): unknown {
  if (typeof tree === 'bigint') {
    const abs = tree < 0n ? -tree : tree;
    return abs > MAX_SAFE ? tree.toString() : Number(tree);
  }
  if (typeof tree === 'number') {
    const literal = JSON.stringify(tree);
    // JSON.stringify writes large doubles as plain integer literals (1e21 and up use an exponent).
    if (/^-?[1-9]\d*$/.test(literal)) return expected(BigInt(literal));
    return JSON.parse(literal) as unknown;
  }
  if (Array.isArray(tree)) return tree.map(expected);
  if (tree !== null && typeof tree === 'object') {
    return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, expected(v)]));
  }
  return tree;
}

/** Values of every type Kakao fields could arrive as, including wrong ones. */
const anyField: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 20 }),
  hostileString(5),
  fc.constantFrom(
    'https://k.kakaocdn.net/img_640x640.jpg',
    'http://k.kakaocdn.net/img_110x110.jpg',
    'javascript:alert(1)',
    'https://exa mple.com/a.png',
    '//evil.example/x.png',
    'HTTPS://K.KAKAOCDN.NET/A.JPG',
    '2024-02-01T10:20:30Z',
    '2024-13-45T99:99:99Z',
    'a@b.example',
    'x'.repeat(2049),
  ),
  fc.boolean(),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 2 }),
);

/** A `/v2/user/me` body: Kakao's field names, each present or not, each of a random type. */
const userMeLike: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    id: fc.oneof(
      fc.nat(),
      fc.integer(),
      fc.double(),
      fc.stringMatching(/^\d{1,22}$/),
      fc.constantFrom('1376016924429759228', '00042', '', '-1', '1e3', ' 1'),
      anyField,
    ),
    connected_at: anyField,
    has_signed_up: anyField,
    properties: fc.oneof(
      fc.record(
        { nickname: anyField, profile_image: anyField, thumbnail_image: anyField },
        { requiredKeys: [] },
      ),
      anyField,
    ),
    kakao_account: fc.oneof(
      fc.record(
        {
          profile: fc.oneof(
            fc.record(
              {
                nickname: anyField,
                profile_image_url: anyField,
                thumbnail_image_url: anyField,
                is_default_image: anyField,
                is_default_nickname: anyField,
              },
              { requiredKeys: [] },
            ),
            anyField,
          ),
          email: anyField,
          is_email_valid: anyField,
          is_email_verified: anyField,
          name: anyField,
          age_range: anyField,
          birthday: anyField,
          birthday_type: fc.oneof(fc.constantFrom('SOLAR', 'LUNAR', 'solar'), anyField),
          birthyear: anyField,
          gender: fc.oneof(fc.constantFrom('female', 'male', 'other'), anyField),
          phone_number: anyField,
          profile_nickname_needs_agreement: anyField,
          email_needs_agreement: anyField,
          ci_needs_agreement: anyField,
        },
        { requiredKeys: [] },
      ),
      anyField,
    ),
  },
  { requiredKeys: [] },
);

/** Checks every documented guarantee of a parsed profile. */
function checkProfile(profile: KakaoProfile, input: Record<string, unknown>): void {
  expect(profile.provider).toBe('kakao');
  expect(profile.id).toMatch(/^[1-9]\d{0,18}$/);
  expect(profile.displayName).toBe(profile.username);
  for (const value of [
    profile.nickname,
    profile.email,
    profile.image,
    profile.thumbnail,
    profile.kakaoName,
    profile.ageRange,
    profile.birthday,
    profile.birthyear,
    profile.phoneNumber,
  ]) {
    if (value !== undefined) {
      expect(typeof value).toBe('string');
      expect(value.length).toBeGreaterThan(0);
      expect(value.length).toBeLessThanOrEqual(2048);
    }
  }
  for (const url of [profile.image, profile.thumbnail]) {
    if (url !== undefined) expect(['http:', 'https:']).toContain(new URL(url).protocol);
  }
  const account = input.kakao_account as Record<string, unknown> | undefined;
  if (profile.email !== undefined) {
    expect(account?.is_email_valid).toBe(true);
    expect(account?.is_email_verified).toBe(true);
    expect(profile.emailVerified).toBe(true);
    expect(profile.emails).toEqual([{ value: profile.email, verified: true }]);
  } else {
    expect(profile.emails).toBeUndefined();
    expect(profile.emailVerified).not.toBe(true);
  }
  if (profile.connectedAt !== undefined) expect(Number.isNaN(profile.connectedAt.getTime())).toBe(false);
  for (const scope of profile.missingConsents) expect(CONSENT_SCOPES).toContain(scope);
  if (profile.gender !== undefined) expect(['female', 'male']).toContain(profile.gender);
  if (profile.birthdayType !== undefined) expect(['SOLAR', 'LUNAR']).toContain(profile.birthdayType);
}

describe('parseJsonExactIntegers on generated input', () => {
  test('returns what JSON.parse returns, except unsafe integer literals, which come back exact', () => {
    fc.assert(
      fc.property(treeArbitrary, fc.infiniteStream(whitespace), (tree, spaces) => {
        const text = serialize(tree, () => spaces.next().value as string);
        expect(parseJsonExactIntegers(text)).toEqual(expected(tree));
      }),
    );
  });

  test('throws exactly when JSON.parse throws, and then only a SyntaxError', () => {
    const nearlyJson = fc.tuple(treeArbitrary, fc.nat(), hostileString(2)).map(([tree, at, junk]) => {
      const text = serialize(tree, () => '');
      const i = at % (text.length + 1);
      return text.slice(0, i) + junk + text.slice(i);
    });
    fc.assert(
      fc.property(
        fc.oneof(
          nearlyJson,
          fc.string(),
          fc.constantFrom('{12345678901234567890:1}', '[01234567890123456789]'),
        ),
        (text) => {
          let reference: unknown;
          try {
            reference = { value: JSON.parse(text) as unknown };
          } catch {
            reference = 'throws';
          }
          let actual: unknown;
          try {
            actual = { value: parseJsonExactIntegers(text) };
          } catch (error) {
            expect(error).toBeInstanceOf(SyntaxError);
            actual = 'throws';
          }
          expect(actual === 'throws').toBe(reference === 'throws');
        },
      ),
    );
  });
});

describe('parseProfile on generated responses', () => {
  test('either returns a profile that keeps every guarantee or throws KakaoResponseError bad_shape', () => {
    let parsed = 0;
    let runs = 0;
    fc.assert(
      fc.property(userMeLike, (body) => {
        runs += 1;
        let profile: KakaoProfile;
        try {
          profile = parseProfile(body);
        } catch (error) {
          expect(error).toBeInstanceOf(KakaoResponseError);
          expect(error).toMatchObject({ reason: 'bad_shape', operation: 'user_me' });
          return;
        }
        parsed += 1;
        checkProfile(profile, body);
      }),
    );
    expect(parsed).toBeGreaterThan(runs / 10);
  });

  test('keeps 64-bit ids exact from the response text to the profile', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), userMeLike, (id, body) => {
        const text = JSON.stringify({ ...body, id: 0 }).replace('"id":0', `"id":${id.toString()}`);
        expect(parseProfile(parseJsonExactIntegers(text)).id).toBe(id.toString());
      }),
    );
  });

  test('text to profile throws only SyntaxError or KakaoResponseError, for any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          userMeLike.map((body) => JSON.stringify(body)),
          fc.json(),
          fc.string(),
          hostileString(),
        ),
        (text) => {
          try {
            parseProfile(parseJsonExactIntegers(text));
          } catch (error) {
            expect(error instanceof SyntaxError || error instanceof KakaoResponseError).toBe(true);
          }
        },
      ),
    );
  });
});
