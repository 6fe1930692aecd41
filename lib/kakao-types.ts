/**
 * Wire types of Kakao's responses, as documented in Kakao's REST API reference
 * (https://developers.kakao.com/docs/latest/ko/kakaologin/rest-api). User ids are 64-bit longs;
 * this library parses JSON so that integers beyond 2^53 arrive as exact decimal strings, hence
 * `number | string` on id fields.
 */

/** Successful answer of `POST /oauth/token` (both grants). */
export interface KakaoTokenResponse {
  /** Always `bearer` (Kakao writes it in lower case). */
  token_type: string;
  access_token: string;
  /**
   * Seconds; the same for the access token and the ID token. Kakao always sends it, but RFC 6749 makes
   * it only RECOMMENDED: when it is absent the lifetime is unknown, and the token should be used until
   * Kakao answers -401, then refreshed.
   */
  expires_in?: number;
  /** Always on the code grant; on the refresh grant only when Kakao rotated it (less than a month left). */
  refresh_token?: string;
  /** Seconds; present exactly when `refresh_token` is. */
  refresh_token_expires_in?: number;
  /** Space-separated granted consent items; usually absent on refresh. */
  scope?: string;
  /** OpenID Connect ID token, when OIDC is enabled or `openid` was requested. */
  id_token?: string;
}

/** `kakao_account.profile`. */
export interface KakaoAccountProfile {
  nickname?: string;
  thumbnail_image_url?: string;
  profile_image_url?: string;
  is_default_image?: boolean;
  is_default_nickname?: boolean;
}

/** `kakao_account` of `/v2/user/me`; every item has a `<item>_needs_agreement` sibling. */
export interface KakaoAccount {
  profile_needs_agreement?: boolean;
  profile_nickname_needs_agreement?: boolean;
  profile_image_needs_agreement?: boolean;
  profile?: KakaoAccountProfile;
  name_needs_agreement?: boolean;
  name?: string;
  email_needs_agreement?: boolean;
  is_email_valid?: boolean;
  is_email_verified?: boolean;
  email?: string;
  age_range_needs_agreement?: boolean;
  age_range?: string;
  birthyear_needs_agreement?: boolean;
  birthyear?: string;
  birthday_needs_agreement?: boolean;
  birthday?: string;
  birthday_type?: 'SOLAR' | 'LUNAR';
  is_leap_month?: boolean;
  gender_needs_agreement?: boolean;
  gender?: 'female' | 'male';
  phone_number_needs_agreement?: boolean;
  phone_number?: string;
  ci_needs_agreement?: boolean;
  ci?: string;
  ci_authenticated_at?: string;
  [key: string]: unknown;
}

/** `GET /v2/user/me`. */
export interface KakaoUserMeResponse {
  /** 64-bit user id: a string when beyond 2^53 (see above). */
  id: number | string;
  /**
   * Only for apps with "auto-link" off in the console: `false` while the user is preregistered (logged in,
   * `POST /v1/user/signup` not called yet). Kakao unlinks users who stay preregistered for 24 hours.
   */
  has_signed_up?: boolean;
  connected_at?: string;
  synched_at?: string;
  properties?: Record<string, string>;
  kakao_account?: KakaoAccount;
  for_partner?: { uuid?: string };
  group_user_token?: string;
}

/** kauth error body: `{ error, error_description, error_code: "KOE…" }`. */
export interface KakaoOAuthErrorBody {
  error: string;
  error_description?: string;
  error_code?: string;
}

/** kapi error body: `{ code: -NNN, msg }` (+ scope lists for -402). */
export interface KakaoApiErrorBody {
  code: number;
  msg?: string;
  api_type?: string;
  required_scopes?: string[];
  allowed_scopes?: string[];
}

/** One consent item of `GET /v2/user/scopes` (and `POST /v2/user/revoke/scopes`). */
export interface KakaoScope {
  /** Consent item id, e.g. `account_email`. */
  id: string;
  /** Name shown on the consent screen. */
  displayName: string;
  /** `PRIVACY` (personal information) or `SERVICE` (permission); other values are passed through. */
  type: string;
  /** Whether the app uses the item (it is configured in the console). */
  using: boolean;
  /** Whether the user has agreed to it. */
  agreed: boolean;
  /** Only for agreed items: whether the user may revoke it (required items may not). */
  revocable?: boolean;
  /** Whether Kakao does not manage this item (delegated consent). */
  delegated?: boolean;
}

/** `GET /v2/user/scopes`: the user and the app's consent items. */
export interface KakaoScopes {
  /** Kakao user id, as an exact decimal string. */
  id: string;
  scopes: KakaoScope[];
}

/** One service term of `GET /v2/user/service_terms` (Kakao Sync). */
export interface KakaoServiceTerm {
  /** The tag set in the console. */
  tag: string;
  /** Whether the term is required. */
  required: boolean;
  /** Whether the user has agreed to it. */
  agreed: boolean;
  /** Whether the user may revoke it. */
  revocable: boolean;
  /** When the user last agreed, when Kakao says so (a valid RFC 3339 time). */
  agreedAt?: Date;
  /** Where the user agreed: `KAUTH` (Kakao's consent screen) or `KAPI`; other values are passed through. */
  agreedBy?: string;
}

/** `GET /v2/user/service_terms`. */
export interface KakaoServiceTerms {
  /** Kakao user id, as an exact decimal string. */
  id: string;
  serviceTerms: KakaoServiceTerm[];
}

/** `POST /v2/user/revoke/service_terms`. */
export interface KakaoRevokedServiceTerms {
  /** Kakao user id, as an exact decimal string. */
  id: string;
  /** The terms whose consent was revoked (`agreed` is then `false`). */
  revokedServiceTerms: { tag: string; agreed: boolean }[];
}

/**
 * `GET /v1/oidc/userinfo`, with the OpenID Connect claim names. Only `sub` is always there; each other
 * claim needs its consent item.
 */
export interface KakaoOidcUserInfo {
  /** Kakao user id, as a decimal string. */
  sub: string;
  name?: string;
  nickname?: string;
  /** Profile image URL. */
  picture?: string;
  email?: string;
  /** `true` when the email is both valid and verified. */
  email_verified?: boolean;
  /** Kakao's docs disagree on the case (`female` in the table, `MALE` in the sample); passed through as sent. */
  gender?: string;
  /** `YYYY-MM-DD`, `0000-MM-DD` (birthday only) or `YYYY` (birth year only). */
  birthdate?: string;
  phone_number?: string;
  phone_number_verified?: boolean;
}
