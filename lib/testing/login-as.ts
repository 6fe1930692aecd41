/**
 * `loginAs`: logs a chosen user in to the app under test, through the app's own login routes and a
 * supertest-style agent, with the consent decision made at the emulator over HTTP.
 */
import { CONTROL_TOKEN_HEADER } from './control';
import { argumentError } from './wire';

/** {@link KakaoEmulator.strategyOptions}. */
export interface EmulatorStrategyOptions {
  readonly clientID: string;
  readonly clientSecret?: string;
  readonly authOrigin: string;
  readonly apiOrigin: string;
}

/** Options of {@link KakaoEmulator.loginAs}. */
export interface LoginAsOptions {
  /** Path of the app's login start. Default `'/auth/kakao'`. */
  loginPath?: string;
  /** Where the app should send the user after the login (`?returnTo=`). Default none. */
  returnTo?: string;
  /** Consent items the user agrees to. Default: every item the consent screen would offer. */
  scopes?: string[];
}

/** A response as a supertest agent gives it. */
export interface LoginAgentResponse {
  status: number;
  headers: Record<string, unknown>;
}

/** A request as a supertest agent builds it: chainable, then awaited. */
export interface LoginAgentRequest extends PromiseLike<LoginAgentResponse> {
  redirects(count: number): LoginAgentRequest;
  set(field: string, value: string): LoginAgentRequest;
}

/**
 * What {@link KakaoEmulator.loginAs} needs from the agent: `get(path)` against the app, keeping cookies
 * between requests. A `supertest.agent(app)` from your own devDependencies fits.
 */
export interface LoginAgent {
  get(url: string): LoginAgentRequest;
}

/** What `loginAs` needs to know about the emulator. */
export interface LoginAsEmulator {
  readonly url: string;
  readonly authOrigin: string;
  readonly controlToken: string;
}

/** A step of `loginAs` failed; the message says which and why. */
function loginFailed(message: string): Error & { code: 'ERR_KAKAO_EMULATOR_LOGIN' } {
  return Object.assign(new Error(`loginAs: ${message}`), { code: 'ERR_KAKAO_EMULATOR_LOGIN' as const });
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Implements `KakaoEmulator.loginAs`; see its documentation. */
export async function loginAs(
  emulator: LoginAsEmulator,
  agent: LoginAgent,
  userId: string,
  options: LoginAsOptions = {},
): Promise<{ location: string }> {
  if (typeof agent !== 'object' || agent === null || typeof agent.get !== 'function') {
    throw argumentError('loginAs: "agent" must be a supertest agent, e.g. supertest.agent(app)');
  }
  if (typeof userId !== 'string' || userId === '') throw argumentError('loginAs: "userId" must be a string');
  if (typeof options !== 'object' || options === null)
    throw argumentError('loginAs: options must be an object');
  const loginPath = options.loginPath ?? '/auth/kakao';
  if (typeof loginPath !== 'string' || !loginPath.startsWith('/')) {
    throw argumentError('loginAs: "loginPath" must be a path such as "/auth/kakao"');
  }
  if (options.returnTo !== undefined && typeof options.returnTo !== 'string') {
    throw argumentError('loginAs: "returnTo" must be a string');
  }
  const path =
    options.returnTo === undefined
      ? loginPath
      : `${loginPath}${loginPath.includes('?') ? '&' : '?'}returnTo=${encodeURIComponent(options.returnTo)}`;

  // A top-level navigation, as a browser sends it.
  const start = await agent
    .get(path)
    .redirects(0)
    .set('Sec-Fetch-Mode', 'navigate')
    .set('Sec-Fetch-Dest', 'document')
    .set('Sec-Fetch-Site', 'none');
  const authorizeUrl = header(start.headers, 'location');
  const expected = `${emulator.authOrigin}/oauth/authorize?`;
  if (start.status !== 302 || authorizeUrl === undefined || !authorizeUrl.startsWith(expected)) {
    throw loginFailed(
      `GET ${loginPath} answered ${start.status}${authorizeUrl ? ` to ${authorizeUrl.split('?')[0]}` : ''}; ` +
        `expected a 302 to ${expected.slice(0, -1)} (is the app configured with emulator.strategyOptions?)`,
    );
  }

  const response = await fetch(`${emulator.url}/_emulator/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CONTROL_TOKEN_HEADER]: emulator.controlToken },
    body: JSON.stringify({ authorizeUrl, userId, scopes: options.scopes }),
  });
  const decided = (await response.json()) as { location?: string; message?: string };
  if (response.status !== 200 || typeof decided.location !== 'string') {
    throw loginFailed(`the emulator did not log user ${userId} in: ${decided.message ?? response.status}`);
  }
  const callback = new URL(decided.location);
  const kakaoError = callback.searchParams.get('error');
  if (kakaoError !== null) {
    throw loginFailed(
      `Kakao redirected back with error=${kakaoError} (${callback.searchParams.get('error_description') ?? ''})`,
    );
  }

  const finished = await agent.get(`${callback.pathname}${callback.search}`).redirects(0);
  const location = header(finished.headers, 'location');
  if (finished.status !== 302 || location === undefined) {
    throw loginFailed(`the callback ${callback.pathname} answered ${finished.status}, expected a 302`);
  }
  if (/[?&]login_error=/.test(location)) {
    throw loginFailed(`the app refused the login and redirected to ${location}`);
  }
  return { location };
}
