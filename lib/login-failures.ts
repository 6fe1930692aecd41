/** Why a login ended without a user: stable codes, safe to show in a URL (`?login_error=`). */
export type KakaoLoginFailureCode =
  | 'invalid_request'
  | 'session_missing'
  | 'state_mismatch'
  | 'login_expired'
  | 'access_denied'
  | 'consent_required'
  | 'login_required'
  | 'interaction_required'
  | 'authorization_failed'
  | 'code_rejected'
  | 'misconfigured'
  | 'id_token_invalid'
  | 'user_rejected'
  | 'not_navigation';

/** What `fail()` receives: Passport's `{ message }` plus a stable `code`. */
export interface KakaoLoginFailure {
  code: KakaoLoginFailureCode;
  message: string;
}

/** The user-facing text of each failure code (English; the example app adds Korean). */
export const LOGIN_FAILURE_MESSAGES: Readonly<Record<KakaoLoginFailureCode, string>> = Object.freeze({
  invalid_request: 'The login response was malformed.',
  session_missing: 'The login could not be matched to this browser (cookies blocked, or another host name?).',
  state_mismatch: 'The login response did not match a login started in this browser.',
  login_expired: 'The login took too long or was already used. Please try again.',
  access_denied: 'You cancelled the Kakao login.',
  consent_required: 'Kakao needs your consent first.',
  login_required: 'You are not signed in to Kakao.',
  interaction_required: 'Kakao needs you to complete a step first.',
  authorization_failed: 'Kakao could not authorize this login.',
  code_rejected: 'Kakao did not accept the login code (it may have been used already).',
  misconfigured: 'Kakao Login is not set up correctly for this site. Please tell the site operator.',
  id_token_invalid: 'The login could not be verified.',
  user_rejected: 'This account cannot sign in here.',
  not_navigation: 'A login can only be started by opening the login page.',
});

/** The Kakao redirect errors that have their own failure code; any other becomes `authorization_failed`. */
export function failureForAuthorizationError(error: string): KakaoLoginFailureCode {
  return error === 'access_denied' ||
    error === 'consent_required' ||
    error === 'login_required' ||
    error === 'interaction_required'
    ? error
    : 'authorization_failed';
}
