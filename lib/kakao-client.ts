/**
 * The one place that calls Kakao for user flows: the token endpoint (code exchange, refresh) on
 * kauth, and the user APIs on kapi (`/v2/user/me`, logout, unlink, token info, consent items,
 * service terms, sign-up, user properties, OIDC user info). Every answer is validated before it is
 * returned, and every failure becomes one of the coded errors of `./errors`.
 */

import {
  checkOptionNames,
  configError,
  DEFAULT_API_ORIGIN,
  DEFAULT_AUTH_ORIGIN,
  requireAbsoluteUrl,
  requireOrigin,
  requirePositiveInt,
  requireString,
} from './config';
import { isKakaoError, KakaoResponseError, type KakaoTokenError } from './errors';
import { requestJson, resolveTransportOptions, type HttpOptions } from './http';
import type { KakaoTokenResponse, KakaoUserMeResponse } from './kakao-types';
import {
  KakaoUserApis,
  requireAccessToken,
  requireCodeVerifier,
  userMeQuery,
  type ApiCall,
  type KakaoGetUserOptions,
  type KapiCall,
} from './kakao-user-apis';
import { apiFailure, badShape, parseTokenResponse, responseUserId, tokenFailure } from './kakao-wire';
import { isPlainObject, MAX_TIMEOUT_MS, sleep } from './util';

export type { KakaoGetUserOptions } from './kakao-user-apis';
export {
  apiErrorConfigurationHint,
  apiFailure,
  parseTokenResponse,
  tokenErrorConfigurationHint,
  tokenFailure,
} from './kakao-wire';

/** Options of {@link KakaoClient}. */
export interface KakaoClientOptions {
  /** The app's REST API key, sent as `client_id`. */
  clientID: string;
  /**
   * The client secret of that REST API key, sent as `client_secret` (`client_secret_post`, the only
   * method Kakao accepts). Set it exactly when "Client secret" is ON in the Kakao console; when
   * omitted, no `client_secret` field is sent at all. Default: none.
   */
  clientSecret?: string;
  /** Origin of the authorization server. Default: `https://kauth.kakao.com`. */
  authOrigin?: string;
  /** Origin of the API server. Default: `https://kapi.kakao.com`. */
  apiOrigin?: string;
  /** Deadline of every call except logout, in ms. Default: `10000`. */
  timeoutMs?: number;
  /** Deadline of a token logout call, in ms (logout is best effort, so it gives up sooner). Default: `3000`. */
  logoutTimeoutMs?: number;
  /** Largest response body accepted, in bytes. Default: `65536`. */
  maxResponseBytes?: number;
  /**
   * Ask `/v2/user/me` for `https` image URLs (`secure_resource=true`), as Kakao's own SDKs do. `false`
   * sends nothing, leaving Kakao's default (`http` URLs). Default: `true`.
   */
  secureResource?: boolean;
  /**
   * A fetch implementation to route calls through (proxies, instrumentation). Default: none, which
   * means the built-in node:http(s) transport with a process-wide keep-alive pool (far less CPU per call).
   */
  fetch?: typeof globalThis.fetch;
}

/** What `GET /v1/user/access_token_info` says about an access token. */
export interface KakaoAccessTokenInfo {
  /** Kakao user id, as an exact decimal string. */
  id: string;
  /** Seconds the token has left. */
  expiresIn: number;
  /** The app the token was issued to. */
  appId: number;
}

const OPTION_NAMES = [
  'clientID',
  'clientSecret',
  'authOrigin',
  'apiOrigin',
  'timeoutMs',
  'logoutTimeoutMs',
  'maxResponseBytes',
  'secureResource',
  'fetch',
] as const;

const WHAT = 'KakaoClient';

interface ResolvedOptions {
  readonly clientSecret: string | undefined;
  readonly secureResource: boolean;
  readonly http: Readonly<HttpOptions>;
  readonly logoutHttp: Readonly<HttpOptions>;
}

/**
 * Client for Kakao's user-flow endpoints.
 *
 * @example
 * ```ts
 * declare const code: string; // from the callback query
 * declare const codeVerifier: string; // the PKCE verifier of this login
 * const kakao = new KakaoClient({ clientID: process.env.KAKAO_REST_API_KEY!, clientSecret: process.env.KAKAO_CLIENT_SECRET });
 * const tokens = await kakao.exchangeCode({ code, redirectUri: 'https://app.example/auth/kakao/callback', codeVerifier });
 * const me = await kakao.getUser(tokens.access_token);
 * ```
 */
export class KakaoClient extends KakaoUserApis {
  /** Origin of the authorization server, without a trailing slash. */
  readonly authOrigin: string;
  /** Origin of the API server, without a trailing slash. */
  readonly apiOrigin: string;
  /** The REST API key. */
  readonly clientID: string;
  // Private so that util.inspect, JSON.stringify and spreading never show the secret.
  readonly #options: ResolvedOptions;
  readonly #api: KapiCall;

  /**
   * Validates the options once; the caller's object is copied, never kept or changed.
   *
   * @throws {TypeError} with code `ERR_INVALID_ARG_VALUE` on a missing or malformed option, or an
   *   unknown option name (the message suggests the right one). The secret is never quoted.
   */
  constructor(options: KakaoClientOptions) {
    const resolved = resolveOptions(options);
    const api = kapiCall(resolved.apiOrigin, resolved.options.http);
    super(api);
    this.clientID = resolved.clientID;
    this.authOrigin = resolved.authOrigin;
    this.apiOrigin = resolved.apiOrigin;
    this.#options = resolved.options;
    this.#api = api;
    Object.freeze(this);
  }

  /**
   * Exchanges an authorization code for tokens (`grant_type=authorization_code`, with the PKCE
   * verifier). Never retried: a code is single use, and a replay can make Kakao revoke the tokens
   * it already issued for it.
   *
   * @throws {KakaoTokenError} when Kakao answers an OAuth error (e.g. `invalid_grant` / KOE320 for a
   *   used or expired code, `invalid_client` / KOE010 for a wrong secret; see
   *   {@link tokenErrorConfigurationHint} for the ones that are configuration mistakes).
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer,
   *   or a token response of the wrong shape (`bad_shape`).
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when an argument is malformed; the value is not quoted.
   */
  async exchangeCode(input: {
    code: string;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<KakaoTokenResponse> {
    if (typeof input !== 'object' || input === null) {
      throw configError('exchangeCode: expected { code, redirectUri, codeVerifier }.');
    }
    requireAccessToken('exchangeCode', input.code, 'code');
    requireAbsoluteUrl(
      'exchangeCode',
      'redirectUri',
      input.redirectUri,
      'equal to the one sent to the authorize endpoint',
    );
    requireCodeVerifier('exchangeCode', input.codeVerifier);
    return this.#token('token', {
      grant_type: 'authorization_code',
      client_id: this.clientID,
      redirect_uri: input.redirectUri,
      code: input.code,
      code_verifier: input.codeVerifier,
      client_secret: this.#options.clientSecret,
    });
  }

  /**
   * Gets a new access token (`grant_type=refresh_token`). Kakao returns a new refresh token only
   * when the old one has less than a month left; otherwise `refresh_token` is absent and the old one
   * stays valid. Retried once, after a short random delay, only when the connection could not be
   * made at all (refused, unresolvable host): a request that may have reached Kakao is never sent twice.
   *
   * @throws {KakaoTokenError} e.g. `invalid_grant` / KOE322 when the refresh token expired or was revoked
   *   (see {@link isInvalidGrant}).
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when the token is not a non-empty printable string.
   */
  async refreshToken(refreshToken: string): Promise<KakaoTokenResponse> {
    requireAccessToken('refreshToken', refreshToken, 'refreshToken');
    const form = {
      grant_type: 'refresh_token',
      client_id: this.clientID,
      refresh_token: refreshToken,
      client_secret: this.#options.clientSecret,
    };
    try {
      return await this.#token('token_refresh', form);
    } catch (error) {
      // Retried only when the connection was never made: a request that may have reached Kakao is
      // not sent twice, because Kakao may have rotated the refresh token already (the caller re-reads
      // its store instead).
      if (!neverSent(error)) throw error;
      await sleep(50 + Math.random() * 150);
      return this.#token('token_refresh', form);
    }
  }

  /**
   * Reads the user (`GET /v2/user/me`), sending the token as `Authorization: Bearer`, never in the
   * URL, and `secure_resource=true` unless turned off. The returned `id` is always an exact decimal
   * string (Kakao ids are 64-bit).
   *
   * @throws {KakaoApiError} when Kakao answers `{ code, msg }`, e.g. `-401` for an invalid or expired token.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer,
   *   or a body without a valid `id` (`bad_shape`).
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) on a malformed token or option.
   */
  async getUser(
    accessToken: string,
    options: KakaoGetUserOptions = {},
  ): Promise<KakaoUserMeResponse & { id: string }> {
    requireAccessToken('getUser', accessToken);
    const query = userMeQuery('getUser', options, this.#options.secureResource);
    const body = await this.#api('user_me', 'GET', '/v2/user/me', accessToken, { query });
    return { ...(body as unknown as KakaoUserMeResponse), id: responseUserId('user_me', body.id) };
  }

  /**
   * Expires the access token at Kakao (`POST /v1/user/logout`); the user's Kakao browser session is
   * untouched. Uses `logoutTimeoutMs`.
   *
   * @throws {KakaoApiError} e.g. `-401` when the token is already invalid.
   * @throws {KakaoResponseError} on timeout, network failure, redirect or a non-200 answer without a Kakao error body.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) on a malformed token.
   */
  async logout(accessToken: string): Promise<void> {
    requireAccessToken('logout', accessToken);
    await this.#api('logout', 'POST', '/v1/user/logout', accessToken, {
      http: this.#options.logoutHttp,
      statusOnly: true,
    });
  }

  /**
   * Unlinks the user from the app (`POST /v1/user/unlink`): revokes consents and every token.
   *
   * @returns the unlinked user's id as an exact decimal string.
   * @throws {KakaoApiError} when Kakao answers `{ code, msg }`.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) on a malformed token.
   */
  async unlink(accessToken: string): Promise<{ id: string }> {
    requireAccessToken('unlink', accessToken);
    const body = await this.#api('unlink', 'POST', '/v1/user/unlink', accessToken);
    return { id: responseUserId('unlink', body.id) };
  }

  /**
   * Checks an access token (`GET /v1/user/access_token_info`).
   *
   * @throws {KakaoApiError} `-401` for an invalid or expired token (refresh), `-1` for a transient Kakao
   *   failure (do not log the user out), `-2` for a malformed token.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) on a malformed token.
   */
  async accessTokenInfo(accessToken: string): Promise<KakaoAccessTokenInfo> {
    requireAccessToken('accessTokenInfo', accessToken);
    const body = await this.#api('access_token_info', 'GET', '/v1/user/access_token_info', accessToken);
    const { expires_in: expiresIn, app_id: appId } = body;
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0) {
      throw badShape('access_token_info');
    }
    if (typeof appId !== 'number' || !Number.isSafeInteger(appId) || appId <= 0)
      throw badShape('access_token_info');
    return { id: responseUserId('access_token_info', body.id), expiresIn, appId };
  }

  async #token(operation: string, form: Record<string, string | undefined>): Promise<KakaoTokenResponse> {
    const url = new URL('/oauth/token', this.authOrigin).href;
    const response = await requestJson(operation, url, { method: 'POST', form }, this.#options.http);
    if (response.status !== 200) throw tokenFailure(operation, response);
    return parseTokenResponse(operation, response.body);
  }
}

/** Validates the options without touching the caller's object. */
function resolveOptions(options: KakaoClientOptions): {
  clientID: string;
  authOrigin: string;
  apiOrigin: string;
  options: ResolvedOptions;
} {
  if (typeof options !== 'object' || options === null) {
    throw configError(`${WHAT}: options must be an object such as { clientID: '<REST API key>' }.`);
  }
  checkOptionNames(WHAT, options, OPTION_NAMES);
  const clientID = requireString(
    WHAT,
    'clientID',
    options.clientID,
    "the app's REST API key from the Kakao console",
  );
  let clientSecret: string | undefined;
  if (options.clientSecret !== undefined) {
    clientSecret = requireString(
      WHAT,
      'clientSecret',
      options.clientSecret,
      'the client secret of this REST API key; omit the option when "Client secret" is OFF in the Kakao console',
    );
  }
  const authOrigin = requireOrigin(
    WHAT,
    'authOrigin',
    options.authOrigin ?? DEFAULT_AUTH_ORIGIN,
    DEFAULT_AUTH_ORIGIN,
  );
  const apiOrigin = requireOrigin(
    WHAT,
    'apiOrigin',
    options.apiOrigin ?? DEFAULT_API_ORIGIN,
    DEFAULT_API_ORIGIN,
  );
  const timeoutMs = timeout('timeoutMs', options.timeoutMs, 10_000);
  const logoutTimeoutMs = timeout('logoutTimeoutMs', options.logoutTimeoutMs, 3_000);
  const secureResource = options.secureResource ?? true;
  if (typeof secureResource !== 'boolean') {
    throw configError(
      `${WHAT}: "secureResource" must be true or false (default true; got ${typeof secureResource}).`,
    );
  }
  const { maxResponseBytes, fetch: fetchFn } = resolveTransportOptions(WHAT, options);
  return {
    clientID,
    authOrigin,
    apiOrigin,
    options: Object.freeze({
      clientSecret,
      secureResource,
      http: Object.freeze({ fetch: fetchFn, timeoutMs, maxResponseBytes }),
      logoutHttp: Object.freeze({ fetch: fetchFn, timeoutMs: logoutTimeoutMs, maxResponseBytes }),
    }),
  };
}

/** One Bearer call to kapi: query or form, the status mapped to errors, the JSON object returned. */
function kapiCall(apiOrigin: string, defaultHttp: HttpOptions): KapiCall {
  return async (operation, method, path, accessToken, call: ApiCall = {}) => {
    const url = new URL(path, apiOrigin);
    for (const [name, value] of Object.entries(call.query ?? {})) url.searchParams.set(name, value);
    const headers = { authorization: `Bearer ${accessToken}` };
    const response = await requestJson(
      operation,
      url.href,
      call.form ? { method, headers, form: call.form } : { method, headers },
      call.http ?? defaultHttp,
    );
    if (response.status !== 200) throw apiFailure(operation, response);
    if (call.statusOnly) return {};
    if (response.body === undefined) {
      throw new KakaoResponseError({ reason: 'non_json', operation, status: response.status });
    }
    if (!isPlainObject(response.body)) throw badShape(operation);
    return response.body;
  };
}

/** True when `error` is a token-endpoint `invalid_grant` (KOE320 used/expired code, KOE322 dead refresh token …). */
export function isInvalidGrant(error: unknown): error is KakaoTokenError {
  return (
    isKakaoError(error) &&
    error.code === 'ERR_KAKAO_TOKEN' &&
    (error as KakaoTokenError).error === 'invalid_grant'
  );
}

/** True when a call to Kakao gave up because its deadline passed. */
export function isTimeout(error: unknown): error is KakaoResponseError {
  return (
    isKakaoError(error) &&
    error.code === 'ERR_KAKAO_RESPONSE' &&
    (error as KakaoResponseError).reason === 'timeout'
  );
}

function timeout(name: string, value: unknown, fallback: number): number {
  const ms = requirePositiveInt(WHAT, name, value, fallback);
  if (ms > MAX_TIMEOUT_MS) {
    throw configError(`${WHAT}: "${name}" must be at most ${MAX_TIMEOUT_MS} ms (got ${ms}).`);
  }
  return ms;
}

/** Failures to connect at all: the request certainly did not reach Kakao. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
]);

function neverSent(error: unknown): boolean {
  if (!(error instanceof KakaoResponseError) || error.reason !== 'network' || error.status !== undefined)
    return false;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NOT_SENT_CODES.has(code);
}
