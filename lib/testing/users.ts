/**
 * The emulator's Kakao accounts: seeded users, validation, which consent item unlocks which data, and
 * the SVG avatars the emulator serves itself.
 */
import { createHash } from 'node:crypto';
import type { EmulatorUser, EmulatorUserInit } from './types';
import { argumentError, escapeHtml } from './wire';

/** Consent items configured by default: a REST app with every common item on (`openid` is the `oidc` option). */
export const DEFAULT_CONSENT_ITEMS: readonly string[] = Object.freeze([
  'profile_nickname',
  'profile_image',
  'account_email',
  'name',
  'age_range',
  'birthyear',
  'birthday',
  'gender',
  'phone_number',
]);

/**
 * The default users. Minji has everything; Jiho has a 19-digit id (beyond `Number.MAX_SAFE_INTEGER`,
 * exposes JSON parsers that round); Seoyeon will not share her e-mail address.
 */
export const SEEDED_USERS: readonly EmulatorUserInit[] = Object.freeze([
  Object.freeze({
    id: '4120937465',
    nickname: 'Minji',
    profileImage: true,
    email: 'minji@example.test',
    emailValid: true,
    emailVerified: true,
    ageRange: '30~39',
    birthday: '0412',
    birthdayType: 'SOLAR',
    gender: 'female',
  } satisfies EmulatorUserInit),
  Object.freeze({
    id: '1376016924429759228',
    nickname: 'Jiho',
    profileImage: true,
    email: 'jiho@example.test',
    emailValid: true,
    emailVerified: true,
  } satisfies EmulatorUserInit),
  Object.freeze({
    id: '3000000003',
    nickname: 'Seoyeon',
    profileImage: true,
    email: 'seoyeon@example.test',
    emailValid: true,
    emailVerified: true,
    grantableScopes: DEFAULT_CONSENT_ITEMS.filter((item) => item !== 'account_email'),
  } satisfies EmulatorUserInit),
]) as readonly EmulatorUserInit[];

/** Korean and English labels of the consent items, as on Kakao's consent screen. */
export const CONSENT_ITEM_LABELS: Readonly<Record<string, readonly [string, string]>> = Object.freeze({
  profile: ['프로필 정보(닉네임/프로필 사진)', 'Profile (nickname, picture)'],
  profile_nickname: ['닉네임', 'Nickname'],
  profile_image: ['프로필 사진', 'Profile picture'],
  account_email: ['카카오계정(이메일)', 'E-mail address'],
  name: ['이름', 'Name'],
  age_range: ['연령대', 'Age range'],
  birthyear: ['출생 연도', 'Year of birth'],
  birthday: ['생일', 'Birthday'],
  gender: ['성별', 'Gender'],
  phone_number: ['카카오계정(전화번호)', 'Phone number'],
  openid: ['OpenID Connect', 'OpenID Connect'],
});

const MAX_USER_ID = 2n ** 63n - 1n;

/** Mutable user record kept by the emulator state. */
export type UserRecord = EmulatorUser & { nickname: string };

/** True for a Kakao user id: a positive decimal 64-bit integer without leading zeros. */
export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && /^[1-9]\d{0,18}$/.test(value) && BigInt(value) <= MAX_USER_ID;
}

function optionalString(init: Record<string, unknown>, key: string, pattern?: RegExp, hint?: string): void {
  const value = init[key];
  if (value === undefined) return;
  if (typeof value !== 'string' || value.length > 200 || (pattern && !pattern.test(value))) {
    throw argumentError(`user "${key}" must be ${hint ?? 'a string of at most 200 characters'}`);
  }
}

function optionalBoolean(init: Record<string, unknown>, key: string): void {
  if (init[key] !== undefined && typeof init[key] !== 'boolean') {
    throw argumentError(`user "${key}" must be a boolean`);
  }
}

/**
 * Validates a user and returns a fresh, unlinked record (the caller's object is not kept).
 * @throws TypeError naming the malformed field.
 */
export function createUserRecord(init: EmulatorUserInit): UserRecord {
  if (typeof init !== 'object' || init === null) throw argumentError('a user must be an object with an "id"');
  const raw = init as unknown as Record<string, unknown>;
  if (!isUserId(raw.id)) {
    throw argumentError('user "id" must be a decimal string of a positive 64-bit integer, e.g. "4120937465"');
  }
  optionalString(raw, 'nickname');
  optionalString(raw, 'email', /^[^\s@]+@[^\s@]+$/, 'an e-mail address');
  optionalString(raw, 'ageRange', /^\d{1,2}~(\d{1,2})?$/, 'a Kakao age range such as "30~39" or "90~"');
  optionalString(raw, 'birthday', /^(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/, 'MMDD, e.g. "0412"');
  optionalString(raw, 'birthyear', /^\d{4}$/, 'YYYY');
  optionalString(raw, 'phoneNumber');
  optionalString(raw, 'name');
  optionalBoolean(raw, 'profileImage');
  optionalBoolean(raw, 'emailValid');
  optionalBoolean(raw, 'emailVerified');
  if (raw.birthdayType !== undefined && raw.birthdayType !== 'SOLAR' && raw.birthdayType !== 'LUNAR') {
    throw argumentError('user "birthdayType" must be "SOLAR" or "LUNAR"');
  }
  if (raw.gender !== undefined && raw.gender !== 'female' && raw.gender !== 'male') {
    throw argumentError('user "gender" must be "female" or "male"');
  }
  if (
    init.grantableScopes !== undefined &&
    (!Array.isArray(init.grantableScopes) || !init.grantableScopes.every((item) => typeof item === 'string'))
  ) {
    throw argumentError('user "grantableScopes" must be an array of consent item ids');
  }
  if (
    init.properties !== undefined &&
    (typeof init.properties !== 'object' ||
      init.properties === null ||
      Array.isArray(init.properties) ||
      !Object.values(init.properties).every((value) => typeof value === 'string'))
  ) {
    throw argumentError('user "properties" must be an object of strings');
  }
  const record: UserRecord = {
    id: init.id,
    nickname: init.nickname ?? `User ${init.id.slice(-4)}`,
    profileImage: init.profileImage ?? false,
    emailValid: init.email === undefined ? undefined : (init.emailValid ?? true),
    emailVerified: init.email === undefined ? undefined : (init.emailVerified ?? true),
    agreedScopes: [],
    agreedServiceTerms: [],
    linked: false,
  };
  for (const key of [
    'email',
    'ageRange',
    'birthday',
    'birthyear',
    'gender',
    'phoneNumber',
    'name',
  ] as const) {
    if (init[key] !== undefined) (record as unknown as Record<string, unknown>)[key] = init[key];
  }
  if (init.birthday !== undefined) record.birthdayType = init.birthdayType ?? 'SOLAR';
  if (init.grantableScopes) record.grantableScopes = [...init.grantableScopes];
  if (init.properties) record.properties = { ...init.properties };
  for (const key of Object.keys(record) as (keyof UserRecord)[]) {
    if (record[key] === undefined) delete record[key];
  }
  return record;
}

/** A deep copy safe to hand out. */
export function snapshotUser(user: UserRecord): EmulatorUser {
  return structuredClone(user);
}

/** Whether the user may agree to the item (consent screen checkbox enabled). */
export function canGrant(user: UserRecord, item: string): boolean {
  return user.grantableScopes ? user.grantableScopes.includes(item) : true;
}

/** Whether the account holds data for the item, i.e. consenting would reveal something. */
export function hasDataFor(user: UserRecord, item: string): boolean {
  switch (item) {
    case 'account_email':
      return user.email !== undefined;
    case 'name':
      return user.name !== undefined;
    case 'age_range':
      return user.ageRange !== undefined;
    case 'birthyear':
      return user.birthyear !== undefined;
    case 'birthday':
      return user.birthday !== undefined;
    case 'gender':
      return user.gender !== undefined;
    case 'phone_number':
      return user.phoneNumber !== undefined;
    default:
      return true;
  }
}

/** Finds a user by `login_hint`: the id or the e-mail address (case-insensitive). */
export function findByHint(users: Iterable<UserRecord>, hint: string | undefined): UserRecord | undefined {
  if (!hint) return undefined;
  const lowered = hint.trim().toLowerCase();
  for (const user of users) {
    if (user.id === hint.trim() || (user.email !== undefined && user.email.toLowerCase() === lowered))
      return user;
  }
  return undefined;
}

/** An SVG avatar: the user's initial on a colour derived from the id; `undefined` user = Kakao's default picture. */
export function avatarSvg(user: UserRecord | undefined, size: number): string {
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">`;
  if (!user) {
    return (
      `${head}<rect width="100" height="100" fill="#d9dde3"/>` +
      '<circle cx="50" cy="38" r="18" fill="#fff"/><path d="M16 92c4-20 18-30 34-30s30 10 34 30z" fill="#fff"/></svg>'
    );
  }
  const hue = createHash('sha256').update(user.id).digest()[0]! % 360;
  const initial = escapeHtml(Array.from(user.nickname)[0] ?? '?');
  return (
    `${head}<rect width="100" height="100" fill="hsl(${hue},55%,52%)"/>` +
    `<text x="50" y="50" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="46" fill="#fff">${initial}</text></svg>`
  );
}
