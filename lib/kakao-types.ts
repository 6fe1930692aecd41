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
  /** Seconds; the same for the access token and the ID token. */
  expires_in: number;
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
