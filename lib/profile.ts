import type { IdTokenClaims } from './id-token';
import { KakaoResponseError } from './errors';
import { parseKakaoId } from './kakao-id';
import type { KakaoUserMeResponse } from './kakao-types';
import { isPlainObject } from './util';

/**
 * A Kakao user in Passport's normalized-profile shape, plus Kakao's own fields, parsed from
 * `GET /v2/user/me` (https://developers.kakao.com/docs/latest/ko/kakaologin/rest-api#req-user-info).
 *
 * Every field except `provider`, `id`, `missingConsents` and `_json` is optional because each depends on
 * a consent item the user may not have given; fields of the wrong type in the response are left out.
 */
export interface KakaoProfile {
  /** Always `'kakao'`. */
  provider: 'kakao';
  /** OpenID Connect mode only: the verified ID token's issuer; the user is identified by (`issuer`, `id`). */
  issuer?: string;
  /** OpenID Connect mode only: the verified ID-token claims (`sub`, `nickname`, `picture`, `email`, …). */
  idTokenClaims?: IdTokenClaims;
  /** The 64-bit Kakao user id as an exact decimal string (19-digit ids are not rounded). */
  id: string;
  /** The nickname (`kakao_account.profile.nickname`, falling back to the legacy `properties.nickname`). */
  displayName: string | undefined;
  /** Same as `displayName`, for compatibility with passport-kakao. */
  username: string | undefined;
  /** Only when Kakao says the email is both valid and verified; then `verified` is always `true`. */
  emails?: { value: string; verified: true }[];
  /** `image` then `thumbnail`, whichever are present (default images included; see `isDefaultImage`). */
  photos?: { value: string }[];
  /** The Kakao nickname (`profile_nickname` consent). */
  nickname?: string;
  /** The email address, only when valid and verified (`account_email` consent). */
  email?: string;
  /** `true` with `email`; `false` when Kakao sent email fields but the address is not valid and verified. */
  emailVerified?: boolean;
  /** Profile image URL (640 or 480 px), absolute http(s) only (`profile_image` consent). */
  image?: string;
  /** Thumbnail URL (110 or 100 px), absolute http(s) only (`profile_image` consent). */
  thumbnail?: string;
  /** `true` when the user has no profile image and Kakao sent its placeholder. */
  isDefaultImage?: boolean;
  /** `true` when Kakao replaced a policy-violating nickname with a placeholder. */
  isDefaultNickname?: boolean;
  /** The user's name from `kakao_account.name` (`name` consent). Not mapped to Passport's `name`. */
  kakaoName?: string;
  /** Age bucket such as `'30~39'` (`age_range` consent). */
  ageRange?: string;
  /** Birthday as `MMDD` (`birthday` consent). */
  birthday?: string;
  /** Calendar of `birthday`. */
  birthdayType?: 'SOLAR' | 'LUNAR';
  /** Birth year as `YYYY` (`birthyear` consent). */
  birthyear?: string;
  /** `gender` consent. */
  gender?: 'female' | 'male';
  /** Phone number in Kakao's `+82 10-1234-5678` style (`phone_number` consent). */
  phoneNumber?: string;
  /** When the user linked the app (`connected_at`), only when it is a valid RFC 3339 time. */
  connectedAt?: Date;
  /**
   * Sent only to apps with "auto-link" OFF in the console: `false` means the user is preregistered
   * (logged in, not signed up yet). Finish the sign-up with `KakaoClient.signup`; Kakao unlinks users who
   * stay preregistered for 24 hours (unlink webhook reason `INCOMPLETE_SIGN_UP`).
   */
  hasSignedUp?: boolean;
  /**
   * Consent items (scope ids) the user has not given but could be asked for, from the
   * `<item>_needs_agreement` flags: `profile_nickname`, `profile_image`, `account_email`, `name`,
   * `age_range`, `birthyear`, `birthday`, `gender`, `phone_number`, `account_ci`, `profile` (legacy).
   * Pass them as `scope` to a new login to ask again.
   */
  missingConsents: string[];
  /** The parsed response as received (Passport convention); only `id` has been validated. */
  _json: KakaoUserMeResponse;
}

const MAX_STRING_LENGTH = 2048;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// eslint-disable-next-line no-control-regex -- URLs with whitespace or control characters are refused
const URL_FORBIDDEN = /[\x00-\x20\x7f]/;

/** `<flag>_needs_agreement` in `kakao_account` → the scope id that asks for it, in reporting order. */
const CONSENT_FLAGS: readonly (readonly [flag: string, scope: string])[] = [
  ['profile_nickname_needs_agreement', 'profile_nickname'],
  ['profile_image_needs_agreement', 'profile_image'],
  ['email_needs_agreement', 'account_email'],
  ['name_needs_agreement', 'name'],
  ['age_range_needs_agreement', 'age_range'],
  ['birthyear_needs_agreement', 'birthyear'],
  ['birthday_needs_agreement', 'birthday'],
  ['gender_needs_agreement', 'gender'],
  ['phone_number_needs_agreement', 'phone_number'],
  ['ci_needs_agreement', 'account_ci'],
  ['profile_needs_agreement', 'profile'],
];

/**
 * Maps a parsed `/v2/user/me` response to a {@link KakaoProfile}. Pure and total: anything of the wrong
 * type is ignored, strings over 2048 characters are dropped, image URLs must be absolute http(s) URLs,
 * and the email is exposed only when Kakao marks it valid and verified.
 *
 * Parse the body with `parseJsonExactIntegers` so that 19-digit ids arrive exact; a rounded id (a
 * number beyond `Number.MAX_SAFE_INTEGER`) is refused rather than trusted.
 *
 * @param json - The parsed response body.
 * @throws KakaoResponseError with `reason: 'bad_shape'` and `operation: 'user_me'` when there is no usable
 *   id: neither a positive safe integer nor a Kakao id string (1 to 19 digits, no leading zero, at most
 *   2^63 - 1; see `isKakaoId`).
 * @example
 * ```ts
 * declare const kakao: KakaoClient;
 * declare const accessToken: string;
 * const profile = parseProfile(await kakao.getUser(accessToken)); // getUser keeps the id exact
 * ```
 */
export function parseProfile(json: unknown): KakaoProfile {
  const body = asRecord(json);
  const id = body === undefined ? undefined : parseKakaoId(body.id);
  if (body === undefined || id === undefined) {
    throw new KakaoResponseError({ reason: 'bad_shape', operation: 'user_me' });
  }

  const properties = asRecord(body.properties);
  const account = asRecord(body.kakao_account);
  const profile = asRecord(account?.profile);

  const nickname = text(profile?.nickname) ?? text(properties?.nickname);
  const result: KakaoProfile = {
    provider: 'kakao',
    id,
    displayName: nickname,
    username: nickname,
    missingConsents: [],
    _json: body as unknown as KakaoUserMeResponse,
  };
  if (nickname !== undefined) result.nickname = nickname;

  if (account !== undefined) {
    const hasEmailFields = ['email', 'is_email_valid', 'is_email_verified'].some((key) =>
      Object.hasOwn(account, key),
    );
    const email = text(account.email);
    if (email !== undefined && account.is_email_valid === true && account.is_email_verified === true) {
      result.email = email;
      result.emailVerified = true;
      result.emails = [{ value: email, verified: true }];
    } else if (hasEmailFields) {
      result.emailVerified = false;
    }
  }

  const image = httpUrl(profile?.profile_image_url) ?? httpUrl(properties?.profile_image);
  const thumbnail = httpUrl(profile?.thumbnail_image_url) ?? httpUrl(properties?.thumbnail_image);
  if (image !== undefined) result.image = image;
  if (thumbnail !== undefined) result.thumbnail = thumbnail;
  const photos = [image, thumbnail].filter((url): url is string => url !== undefined);
  if (photos.length > 0) result.photos = photos.map((value) => ({ value }));
  if (typeof profile?.is_default_image === 'boolean') result.isDefaultImage = profile.is_default_image;
  if (typeof profile?.is_default_nickname === 'boolean')
    result.isDefaultNickname = profile.is_default_nickname;

  if (account !== undefined) {
    assign(result, 'kakaoName', text(account.name));
    assign(result, 'ageRange', text(account.age_range));
    assign(result, 'birthday', text(account.birthday));
    assign(result, 'birthyear', text(account.birthyear));
    assign(result, 'phoneNumber', text(account.phone_number));
    const birthdayType = account.birthday_type;
    if (birthdayType === 'SOLAR' || birthdayType === 'LUNAR') result.birthdayType = birthdayType;
    const gender = account.gender;
    if (gender === 'female' || gender === 'male') result.gender = gender;
    for (const [flag, scope] of CONSENT_FLAGS) {
      if (account[flag] === true) result.missingConsents.push(scope);
    }
  }

  const connectedAt = timestamp(body.connected_at);
  if (connectedAt !== undefined) result.connectedAt = connectedAt;
  if (typeof body.has_signed_up === 'boolean') result.hasSignedUp = body.has_signed_up;
  return result;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isPlainObject(value) ? value : undefined;
}

/** A non-empty string of at most 2048 characters, kept as is (rendering escapes it), else undefined. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_STRING_LENGTH
    ? value
    : undefined;
}

function httpUrl(value: unknown): string | undefined {
  const candidate = text(value);
  if (candidate === undefined || URL_FORBIDDEN.test(candidate) || !/^https?:\/\//i.test(candidate)) {
    return undefined;
  }
  return URL.canParse(candidate) ? candidate : undefined;
}

function timestamp(value: unknown): Date | undefined {
  const candidate = text(value);
  if (candidate === undefined || !RFC3339.test(candidate)) return undefined;
  const date = new Date(candidate);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function assign<K extends 'kakaoName' | 'ageRange' | 'birthday' | 'birthyear' | 'phoneNumber'>(
  target: KakaoProfile,
  key: K,
  value: string | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

/**
 * The profile in OpenID Connect mode: Kakao's `/v2/user/me` answer, completed with the verified
 * claims (`nickname`, `picture` fill gaps; the claims are kept whole in `idTokenClaims`).
 */
export function withIdTokenClaims(
  profile: KakaoProfile,
  claims: IdTokenClaims,
  issuer: string,
): KakaoProfile {
  const nickname = profile.nickname ?? (typeof claims.nickname === 'string' ? claims.nickname : undefined);
  const image = profile.image ?? (typeof claims.picture === 'string' ? claims.picture : undefined);
  return {
    ...profile,
    issuer,
    idTokenClaims: claims,
    ...(nickname !== undefined && { nickname, displayName: profile.displayName ?? nickname }),
    ...(image !== undefined && { image }),
  };
}
