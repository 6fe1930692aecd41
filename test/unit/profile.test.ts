import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKakaoError, KakaoResponseError } from '../../lib/errors';
import { parseJsonExactIntegers } from '../../lib/json';
import { parseProfile } from '../../lib/profile';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kakao');
const fixtureText = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const fixture = (name: string) => parseJsonExactIntegers(fixtureText(name)) as Record<string, unknown>;

describe('parseProfile', () => {
  it('maps a response with every consent given', () => {
    const json = fixture('user-me-full.json');
    expect(parseProfile(json)).toEqual({
      provider: 'kakao',
      id: '4120937465',
      displayName: 'Minji',
      username: 'Minji',
      nickname: 'Minji',
      emails: [{ value: 'minji@example.test', verified: true }],
      email: 'minji@example.test',
      emailVerified: true,
      photos: [
        { value: 'https://k.kakaocdn.net/dn/x/img_640x640.jpg' },
        { value: 'https://k.kakaocdn.net/dn/x/img_110x110.jpg' },
      ],
      image: 'https://k.kakaocdn.net/dn/x/img_640x640.jpg',
      thumbnail: 'https://k.kakaocdn.net/dn/x/img_110x110.jpg',
      isDefaultImage: false,
      isDefaultNickname: false,
      kakaoName: 'Kim Minji',
      ageRange: '30~39',
      birthday: '0412',
      birthdayType: 'SOLAR',
      birthyear: '1990',
      gender: 'female',
      phoneNumber: '+82 10-0000-0000',
      connectedAt: new Date('2024-05-02T03:11:09Z'),
      hasSignedUp: true,
      missingConsents: [],
      _json: json,
    });
  });

  it('never maps the Kakao name to the Passport name field', () => {
    expect(parseProfile(fixture('user-me-full.json'))).not.toHaveProperty('name');
  });

  it('keeps a 19-digit id exact', () => {
    const text = fixtureText('user-me-19-digit.txt');
    expect(text).toContain('"id": 1376016924429759228,');
    const profile = parseProfile(parseJsonExactIntegers(text));
    expect(profile.id).toBe('1376016924429759228');
    expect(profile.displayName).toBe('Jisoo');
  });

  it('refuses an id that JSON.parse has already rounded', () => {
    expect(() => parseProfile(JSON.parse(fixtureText('user-me-19-digit.txt')))).toThrow(KakaoResponseError);
  });

  it('gives a user without email consent no email and lists account_email as missing', () => {
    const profile = parseProfile(fixture('user-me-no-email.json'));
    expect(profile.emails).toBeUndefined();
    expect(profile.email).toBeUndefined();
    expect(profile.emailVerified).toBeUndefined();
    expect(profile.missingConsents).toContain('account_email');
    expect(profile.displayName).toBe('Minji');
  });

  it('maps a minimal response to an id and nothing else', () => {
    const json = fixture('user-me-minimal.json');
    expect(parseProfile(json)).toEqual({
      provider: 'kakao',
      id: '4120937466',
      displayName: undefined,
      username: undefined,
      connectedAt: new Date('2024-05-02T03:11:09Z'),
      missingConsents: [],
      _json: json,
    });
  });

  it('keeps default images and flags them', () => {
    const profile = parseProfile(fixture('user-me-default-image.json'));
    expect(profile.isDefaultImage).toBe(true);
    expect(profile.isDefaultNickname).toBe(true);
    expect(profile.image).toMatch(/^http:\/\/img1\.kakaocdn\.net\/.*R640x640/);
    expect(profile.thumbnail).toMatch(/R110x110/);
    expect(profile.photos).toEqual([{ value: profile.image }, { value: profile.thumbnail }]);
  });

  it('falls back to the legacy properties for nickname and images', () => {
    const profile = parseProfile(fixture('user-me-legacy-properties.json'));
    expect(profile.displayName).toBe('Legacy Lee');
    expect(profile.username).toBe('Legacy Lee');
    expect(profile.image).toBe('https://k.kakaocdn.net/dn/y/img_640x640.jpg');
    expect(profile.thumbnail).toBe('https://k.kakaocdn.net/dn/y/img_110x110.jpg');
  });

  it('prefers the account nickname over the legacy property', () => {
    const profile = parseProfile({
      id: 1,
      properties: { nickname: 'old' },
      kakao_account: { profile: { nickname: 'new' } },
    });
    expect(profile.displayName).toBe('new');
  });

  describe('email', () => {
    const account = (fields: Record<string, unknown>) => parseProfile({ id: 1, kakao_account: fields });

    it('is withheld when Kakao marks it invalid', () => {
      const profile = account({ email: 'a@example.test', is_email_valid: false, is_email_verified: true });
      expect(profile.email).toBeUndefined();
      expect(profile.emails).toBeUndefined();
      expect(profile.emailVerified).toBe(false);
    });

    it('is withheld when Kakao marks it unverified', () => {
      const profile = account({ email: 'a@example.test', is_email_valid: true, is_email_verified: false });
      expect(profile.email).toBeUndefined();
      expect(profile.emailVerified).toBe(false);
    });

    it('is withheld when the flags are truthy but not true', () => {
      const profile = account({ email: 'a@example.test', is_email_valid: 'true', is_email_verified: 1 });
      expect(profile.email).toBeUndefined();
      expect(profile.emailVerified).toBe(false);
    });

    it('is withheld when the flags are missing', () => {
      expect(account({ email: 'a@example.test' }).email).toBeUndefined();
    });
  });

  it('lists every consent Kakao says it could still ask for, as scope ids', () => {
    const flags = [
      'profile_nickname',
      'profile_image',
      'email',
      'name',
      'age_range',
      'birthyear',
      'birthday',
      'gender',
      'phone_number',
      'ci',
      'profile',
    ];
    const kakaoAccount = Object.fromEntries(flags.map((flag) => [`${flag}_needs_agreement`, true]));
    expect(parseProfile({ id: 1, kakao_account: kakaoAccount }).missingConsents).toEqual([
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
    ]);
  });

  it('lists a consent only when its flag is exactly true', () => {
    const profile = parseProfile({
      id: 1,
      kakao_account: { email_needs_agreement: 'true', gender_needs_agreement: 1 },
    });
    expect(profile.missingConsents).toEqual([]);
  });

  describe('id', () => {
    it('accepts a Kakao id as a decimal string or a safe integer, exactly as given', () => {
      expect(parseProfile({ id: '1376016924429759228' }).id).toBe('1376016924429759228');
      expect(parseProfile({ id: '9223372036854775807' }).id).toBe('9223372036854775807');
      expect(parseProfile({ id: 1 }).id).toBe('1');
      expect(parseProfile({ id: 4120937465 }).id).toBe('4120937465');
    });

    it.each<[string, unknown]>([
      ['null', null],
      ['undefined', undefined],
      ['an array', []],
      ['a string', 'x'],
      ['a number', 4120937465],
      ['an object without id', {}],
      ['a fractional id', { id: 1.5 }],
      ['a negative id', { id: -1 }],
      ['an id with a letter', { id: '12a' }],
      ['an empty id', { id: '' }],
      ['a signed string id', { id: '-1' }],
      ['an id of 20 digits', { id: '1'.repeat(20) }],
      ['an id beyond a signed 64-bit long', { id: '9223372036854775808' }],
      ['an id with a leading zero (one user must not have two ids)', { id: '0042' }],
      ['the id 0', { id: 0 }],
      ['the id "0"', { id: '0' }],
      ['an id with whitespace', { id: ' 12' }],
      ['an unsafe integer id', { id: 2 ** 53 }],
      ['a NaN id', { id: Number.NaN }],
      ['an Infinity id', { id: Infinity }],
      ['a boolean id', { id: true }],
      ['an array id', { id: [1] }],
      ['an object id', { id: { value: 1 } }],
    ])('throws a bad_shape KakaoResponseError for %s', (_name, input) => {
      let thrown: unknown;
      try {
        parseProfile(input);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(KakaoResponseError);
      expect(isKakaoError(thrown)).toBe(true);
      expect(thrown).toMatchObject({ code: 'ERR_KAKAO_RESPONSE', reason: 'bad_shape', operation: 'user_me' });
    });
  });

  it('ignores fields of the wrong type', () => {
    const json = {
      id: 7,
      has_signed_up: 'yes',
      connected_at: 12345,
      properties: ['nickname'],
      kakao_account: {
        profile: { nickname: 42, profile_image_url: { href: 'https://x' }, is_default_image: 'no' },
        email: ['a@example.test'],
        is_email_valid: true,
        is_email_verified: true,
        name: null,
        age_range: 30,
        birthday: false,
        birthday_type: 'solar',
        birthyear: 1990,
        gender: 'other',
        phone_number: {},
        unknown_field: { deep: [1, 2, 3] },
      },
    };
    const profile = parseProfile(json);
    expect(profile).toEqual({
      provider: 'kakao',
      id: '7',
      displayName: undefined,
      username: undefined,
      emailVerified: false,
      missingConsents: [],
      _json: json,
    });
  });

  it('ignores a kakao_account or profile that is not an object', () => {
    expect(parseProfile({ id: 7, kakao_account: 'x' }).missingConsents).toEqual([]);
    expect(parseProfile({ id: 7, kakao_account: { profile: [1] } }).displayName).toBeUndefined();
    expect(parseProfile({ id: 7, kakao_account: null, properties: null }).displayName).toBeUndefined();
  });

  it('keeps control characters in strings but drops strings over 2048 characters', () => {
    const profile = parseProfile({
      id: 7,
      kakao_account: {
        profile: { nickname: 'a\u0000<b>\n' },
        name: 'x'.repeat(2049),
        age_range: 'y'.repeat(2048),
      },
    });
    expect(profile.displayName).toBe('a\u0000<b>\n');
    expect(profile.kakaoName).toBeUndefined();
    expect(profile.ageRange).toBe('y'.repeat(2048));
  });

  it.each([
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a data: URL', 'data:image/png;base64,AAAA'],
    ['a relative URL', '/img.jpg'],
    ['a protocol-relative URL', '//k.kakaocdn.net/img.jpg'],
    ['a URL with a leading space', ' https://k.kakaocdn.net/img.jpg'],
    ['a URL with a newline', 'https://k.kakaocdn.net/\nimg.jpg'],
    ['an unparsable URL', 'https://'],
    ['an over-long URL', `https://k.kakaocdn.net/${'a'.repeat(2048)}`],
  ])('drops an image URL that is %s', (_name, url) => {
    const profile = parseProfile({
      id: 7,
      kakao_account: { profile: { profile_image_url: url, thumbnail_image_url: url } },
    });
    expect(profile.image).toBeUndefined();
    expect(profile.thumbnail).toBeUndefined();
    expect(profile.photos).toBeUndefined();
  });

  it.each(['2024-13-45T99:99:99Z', 'yesterday', '2024-05-02', ''])(
    'drops an invalid connected_at %j',
    (value) => {
      expect(parseProfile({ id: 7, connected_at: value }).connectedAt).toBeUndefined();
    },
  );

  it('accepts connected_at with an offset and fractional seconds', () => {
    expect(parseProfile({ id: 7, connected_at: '2024-05-02T12:11:09.5+09:00' }).connectedAt).toEqual(
      new Date('2024-05-02T03:11:09.500Z'),
    );
  });

  it('returns the response it was given as _json', () => {
    const json = fixture('user-me-full.json');
    expect(parseProfile(json)._json).toBe(json);
  });
});
