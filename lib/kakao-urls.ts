/** Kakao URLs the browser is sent to: authorize and account logout. Pure: no request, no session. */

/** Everything that goes into `GET /oauth/authorize`. */
export interface AuthorizeUrlInput {
  authOrigin: string;
  clientID: string;
  /** The registered redirect URI, verbatim. */
  redirectUri: string;
  state: string;
  codeChallenge: string;
  scope: readonly string[];
  prompt: readonly string[];
  loginHint?: string | undefined;
  serviceTerms: readonly string[];
  nonce?: string | undefined;
}

/**
 * Returns the authorization URL. Scopes and prompts are comma-separated, as Kakao's REST
 * documentation shows; PKCE is always S256 (`plain` is never sent).
 *
 * @see https://developers.kakao.com/docs/latest/ko/kakaologin/rest-api#request-code
 */
export function buildAuthorizeUrl(input: AuthorizeUrlInput): string {
  const params = new URLSearchParams({
    client_id: input.clientID,
    redirect_uri: input.redirectUri,
    response_type: 'code',
  });
  if (input.scope.length > 0) params.set('scope', input.scope.join(','));
  params.set('state', input.state);
  params.set('code_challenge', input.codeChallenge);
  params.set('code_challenge_method', 'S256');
  if (input.prompt.length > 0) params.set('prompt', input.prompt.join(','));
  if (input.loginHint) params.set('login_hint', input.loginHint);
  if (input.serviceTerms.length > 0) params.set('service_terms', input.serviceTerms.join(','));
  if (input.nonce) params.set('nonce', input.nonce);
  return `${input.authOrigin}/oauth/authorize?${params.toString()}`;
}

/**
 * Kakao's account logout page, which ends the Kakao browser session and returns to
 * `logoutRedirectUri` (registered as a Logout Redirect URI in the console) with `state`.
 *
 * @see https://developers.kakao.com/docs/latest/ko/kakaologin/rest-api#logout-of-service-and-kakaoaccount
 */
export function buildAccountLogoutUrl(input: {
  authOrigin: string;
  clientID: string;
  logoutRedirectUri: string;
  state: string;
}): string {
  const params = new URLSearchParams({
    client_id: input.clientID,
    logout_redirect_uri: input.logoutRedirectUri,
    state: input.state,
  });
  return `${input.authOrigin}/oauth/logout?${params.toString()}`;
}
