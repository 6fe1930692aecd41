/**
 * The one place that calls Kakao for user flows: the token endpoint (code exchange, refresh) on
 * kauth, and `/v2/user/me`, logout, unlink and token info on kapi. Every answer is validated
 * before it is returned, and every failure becomes one of the coded errors of `./errors`.
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
import { isKakaoError, KakaoApiError, KakaoError, KakaoResponseError, KakaoTokenError } from './errors';
import { requestJson, resolveTransportOptions, type HttpOptions, type JsonResponse } from './http';
import type { KakaoTokenResponse, KakaoUserMeResponse } from './kakao-types';

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
  /** Deadline of a token, refresh, user-info, unlink or token-info call, in ms. Default: `10000`. */
  timeoutMs?: number;
  /** Deadline of a token logout call, in ms (logout is best effort, so it gives up sooner). Default: `3000`. */
  logoutTimeoutMs?: number;
  /** Largest response body accepted, in bytes. Default: `65536`. */
  maxResponseBytes?: number;
  /**
   * A fetch implementation to route calls through (proxies, instrumentation). Default: the built-in
   * node:http(s) transport with a process-wide keep-alive pool, which costs far less CPU per call.
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

/** Options of {@link KakaoClient.getUser}. */
export interface KakaoGetUserOptions {
  /** Restrict the answer to these items, e.g. `['kakao_account.email']`. Default: everything consented. */
  propertyKeys?: readonly string[];
  /** Ask for `https` image URLs. Default: not sent (Kakao's default, `false`). */
  secureResource?: boolean;
}

const OPTION_NAMES = [
  'clientID',
  'clientSecret',
  'authOrigin',
  'apiOrigin',
  'timeoutMs',
  'logoutTimeoutMs',
  'maxResponseBytes',
  'fetch',
] as const;

const WHAT = 'KakaoClient';
// setTimeout (behind AbortSignal.timeout) turns longer delays into 1 ms.
const MAX_TIMEOUT_MS = 2_147_483_647;
// RFC 6750 b64token plus the characters Kakao tokens are seen to use; anything else cannot go in a header.
const TOKEN_PATTERN = /^[\x21-\x7e]{1,4096}$/;
const VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;

interface ResolvedOptions {
  readonly clientSecret: string | undefined;
  readonly http: Readonly<HttpOptions>;
  readonly logoutHttp: Readonly<HttpOptions>;
}

/**
 * Client for Kakao's user-flow endpoints.
 *
 * @example
 * ```ts
 * const kakao = new KakaoClient({ clientID: process.env.KAKAO_REST_API_KEY!, clientSecret: process.env.KAKAO_CLIENT_SECRET });
 * const tokens = await kakao.exchangeCode({ code, redirectUri: 'https://app.example/auth/kakao/callback', codeVerifier });
 * const me = await kakao.getUser(tokens.access_token);
 * ```
 */
export class KakaoClient {
  /** Origin of the authorization server, without a trailing slash. */
  readonly authOrigin: string;
  /** Origin of the API server, without a trailing slash. */
  readonly apiOrigin: string;
  /** The REST API key. */
  readonly clientID: string;
  // Private so that util.inspect, JSON.stringify and spreading never show the secret.
  readonly #options: ResolvedOptions;

  /**
   * Validates the options once; the caller's object is copied, never kept or changed.
   *
   * @throws {TypeError} with code `ERR_INVALID_ARG_VALUE` on a missing or malformed option, or an
   *   unknown option name (the message suggests the right one). The secret is never quoted.
   */
  constructor(options: KakaoClientOptions) {
    if (typeof options !== 'object' || options === null) {
      throw configError(`${WHAT}: options must be an object such as { clientID: '<REST API key>' }.`);
    }
    checkOptionNames(WHAT, options, OPTION_NAMES);
    this.clientID = requireString(
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
    this.authOrigin = requireOrigin(
      WHAT,
      'authOrigin',
      options.authOrigin ?? DEFAULT_AUTH_ORIGIN,
      DEFAULT_AUTH_ORIGIN,
    );
    this.apiOrigin = requireOrigin(
      WHAT,
      'apiOrigin',
      options.apiOrigin ?? DEFAULT_API_ORIGIN,
      DEFAULT_API_ORIGIN,
    );
    const timeoutMs = timeout('timeoutMs', options.timeoutMs, 10_000);
    const logoutTimeoutMs = timeout('logoutTimeoutMs', options.logoutTimeoutMs, 3_000);
    const { maxResponseBytes, fetch: fetchFn } = resolveTransportOptions(WHAT, options);
    this.#options = Object.freeze({
      clientSecret,
      http: Object.freeze({ fetch: fetchFn, timeoutMs, maxResponseBytes }),
      logoutHttp: Object.freeze({ fetch: fetchFn, timeoutMs: logoutTimeoutMs, maxResponseBytes }),
    });
    Object.freeze(this);
  }

  /**
   * Exchanges an authorization code for tokens (`grant_type=authorization_code`, with the PKCE
   * verifier). Never retried: a code is single use, and a replay can make Kakao revoke the tokens
   * it already issued for it (R14).
   *
   * @throws {KakaoTokenError} when Kakao answers an OAuth error (e.g. `invalid_grant` / KOE320 for a
   *   used or expired code, `invalid_client` / KOE010 for a wrong secret).
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
    requireSecretArg('exchangeCode', 'code', input.code, TOKEN_PATTERN);
    requireAbsoluteUrl(
      'exchangeCode',
      'redirectUri',
      input.redirectUri,
      'equal to the one sent to the authorize endpoint',
    );
    requireSecretArg('exchangeCode', 'codeVerifier', input.codeVerifier, VERIFIER_PATTERN);
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
   * stays valid. Retried once, after a short random delay, when the connection failed before any
   * response arrived (R54).
   *
   * @throws {KakaoTokenError} e.g. `invalid_grant` / KOE322 when the refresh token expired or was revoked
   *   (see {@link isInvalidGrant}).
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when the token is not a non-empty printable string.
   */
  async refreshToken(refreshToken: string): Promise<KakaoTokenResponse> {
    requireSecretArg('refreshToken', 'refreshToken', refreshToken, TOKEN_PATTERN);
    const form = {
      grant_type: 'refresh_token',
      client_id: this.clientID,
      refresh_token: refreshToken,
      client_secret: this.#options.clientSecret,
    };
    try {
      return await this.#token('token_refresh', form);
    } catch (error) {
      if (!(
        error instanceof KakaoResponseError &&
        error.reason === 'network' &&
        error.status === undefined
      )) {
        throw error;
      }
      await sleep(50 + Math.random() * 150);
      return this.#token('token_refresh', form);
    }
  }

  /**
   * Reads the user (`GET /v2/user/me`), sending the token as `Authorization: Bearer`, never in the
   * URL. The returned `id` is always an exact decimal string (Kakao ids are 64-bit).
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
    requireSecretArg('getUser', 'accessToken', accessToken, TOKEN_PATTERN);
    const url = new URL('/v2/user/me', this.apiOrigin);
    const { propertyKeys, secureResource } = options;
    if (propertyKeys !== undefined) {
      if (
        !Array.isArray(propertyKeys) ||
        !propertyKeys.every((k) => typeof k === 'string' && /^[A-Za-z0-9_.]+$/.test(k))
      ) {
        throw configError(
          'getUser: "propertyKeys" must be an array of Kakao property keys such as ["kakao_account.email"].',
        );
      }
      // Kakao wants a JSON array inside the query parameter.
      url.searchParams.set('property_keys', JSON.stringify(propertyKeys));
    }
    if (secureResource !== undefined) {
      if (typeof secureResource !== 'boolean') {
        throw configError(`getUser: "secureResource" must be true or false (got ${typeof secureResource}).`);
      }
      url.searchParams.set('secure_resource', String(secureResource));
    }
    const body = await this.#api('user_me', 'GET', url.href, accessToken, this.#options.http);
    return { ...(body as unknown as KakaoUserMeResponse), id: requireUserId('user_me', body.id) };
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
    requireSecretArg('logout', 'accessToken', accessToken, TOKEN_PATTERN);
    const url = new URL('/v1/user/logout', this.apiOrigin).href;
    // Best effort: only the status matters, so a 200 whose body is not the documented `{ id }` still counts.
    await this.#api('logout', 'POST', url, accessToken, this.#options.logoutHttp, false);
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
    requireSecretArg('unlink', 'accessToken', accessToken, TOKEN_PATTERN);
    const url = new URL('/v1/user/unlink', this.apiOrigin).href;
    const body = await this.#api('unlink', 'POST', url, accessToken, this.#options.http);
    return { id: requireUserId('unlink', body.id) };
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
    requireSecretArg('accessTokenInfo', 'accessToken', accessToken, TOKEN_PATTERN);
    const url = new URL('/v1/user/access_token_info', this.apiOrigin).href;
    const body = await this.#api('access_token_info', 'GET', url, accessToken, this.#options.http);
    const { expires_in: expiresIn, app_id: appId } = body;
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn < 0) {
      throw new KakaoResponseError({ reason: 'bad_shape', operation: 'access_token_info', status: 200 });
    }
    if (typeof appId !== 'number' || !Number.isSafeInteger(appId) || appId <= 0) {
      throw new KakaoResponseError({ reason: 'bad_shape', operation: 'access_token_info', status: 200 });
    }
    return { id: requireUserId('access_token_info', body.id), expiresIn, appId };
  }

  async #token(operation: string, form: Record<string, string | undefined>): Promise<KakaoTokenResponse> {
    const url = new URL('/oauth/token', this.authOrigin).href;
    const response = await requestJson(operation, url, { method: 'POST', form }, this.#options.http);
    if (response.status !== 200) throw tokenFailure(operation, response);
    return parseTokenResponse(operation, response.body);
  }

  async #api(
    operation: string,
    method: 'GET' | 'POST',
    url: string,
    accessToken: string,
    http: HttpOptions,
    requireBody = true,
  ): Promise<Record<string, unknown>> {
    const response = await requestJson(
      operation,
      url,
      { method, headers: { authorization: `Bearer ${accessToken}` } },
      http,
    );
    if (response.status !== 200) throw apiFailure(operation, response);
    if (!requireBody) return {};
    if (response.body === undefined) {
      throw new KakaoResponseError({ reason: 'non_json', operation, status: response.status });
    }
    if (!isPlainObject(response.body)) {
      throw new KakaoResponseError({ reason: 'bad_shape', operation, status: response.status });
    }
    return response.body;
  }
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

/**
 * Validates a token-endpoint success body (R30) and returns a fresh object with only the known
 * fields, so nothing unexpected from the wire travels further.
 *
 * @throws {KakaoResponseError} `non_json` when there is no JSON body, `bad_shape` when a field is missing
 *   or mistyped. The body is never attached.
 */
export function parseTokenResponse(operation: string, body: unknown): KakaoTokenResponse {
  const fail = (reason: 'non_json' | 'bad_shape'): KakaoResponseError =>
    new KakaoResponseError({ reason, operation, status: 200 });
  if (body === undefined) throw fail('non_json');
  if (!isPlainObject(body)) throw fail('bad_shape');
  const {
    access_token: accessToken,
    token_type: tokenType,
    expires_in: expiresIn,
    refresh_token: refreshToken,
    refresh_token_expires_in: refreshTokenExpiresIn,
    scope,
    id_token: idToken,
  } = body;
  if (!isNonEmptyString(accessToken)) throw fail('bad_shape');
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') throw fail('bad_shape');
  if (!isPositiveNumber(expiresIn)) throw fail('bad_shape');
  if (refreshToken !== undefined && !isNonEmptyString(refreshToken)) throw fail('bad_shape');
  if (refreshTokenExpiresIn !== undefined && !isPositiveNumber(refreshTokenExpiresIn))
    throw fail('bad_shape');
  if (scope !== undefined && typeof scope !== 'string') throw fail('bad_shape');
  if (idToken !== undefined && !isNonEmptyString(idToken)) throw fail('bad_shape');
  const result: KakaoTokenResponse = {
    token_type: 'bearer',
    access_token: accessToken,
    expires_in: expiresIn,
  };
  if (refreshToken !== undefined) result.refresh_token = refreshToken;
  if (refreshTokenExpiresIn !== undefined) result.refresh_token_expires_in = refreshTokenExpiresIn;
  if (scope !== undefined) result.scope = scope;
  if (idToken !== undefined) result.id_token = idToken;
  return result;
}

/**
 * Maps a non-200 answer of the token endpoint: an OAuth error body becomes a {@link KakaoTokenError}
 * (whose description is redacted, since KOE320 quotes the code), anything else a
 * {@link KakaoResponseError} `http_status`.
 */
export function tokenFailure(operation: string, response: JsonResponse): KakaoError {
  const body = response.body;
  if (response.status >= 400 && isPlainObject(body) && typeof body.error === 'string' && body.error !== '') {
    const errorCode = typeof body.error_code === 'string' ? body.error_code : undefined;
    const description = body.error_description;
    return new KakaoTokenError({
      status: response.status,
      // `error` lands in the message unredacted, so only an OAuth-style word is taken as is.
      error: /^[A-Za-z0-9_.-]{1,64}$/.test(body.error) ? body.error : 'invalid_response',
      errorDescription: typeof description === 'string' ? description : undefined,
      errorCode: errorCode !== undefined && /^[A-Za-z0-9_-]{1,16}$/.test(errorCode) ? errorCode : undefined,
    });
  }
  return new KakaoResponseError({ reason: 'http_status', operation, status: response.status });
}

/**
 * Maps a non-200 answer of kapi: `{ code, msg }` becomes a {@link KakaoApiError} (with
 * `requiredScopes` for -402), anything else a {@link KakaoResponseError} `http_status`.
 */
export function apiFailure(operation: string, response: JsonResponse): KakaoError {
  const body = response.body;
  if (response.status >= 400 && isPlainObject(body) && Number.isSafeInteger(body.code)) {
    const scopes = body.required_scopes;
    return new KakaoApiError({
      status: response.status,
      apiCode: body.code as number,
      msg: typeof body.msg === 'string' ? body.msg : undefined,
      requiredScopes: Array.isArray(scopes)
        ? Object.freeze(
            scopes.filter((s): s is string => typeof s === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(s)),
          )
        : undefined,
    });
  }
  return new KakaoResponseError({ reason: 'http_status', operation, status: response.status });
}

const MAX_USER_ID = 2n ** 63n - 1n;

/** A Kakao user id (64-bit, positive) as an exact decimal string. */
function requireUserId(operation: string, id: unknown): string {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id);
  // Integers beyond 2^53 come from the parser as digit strings; Kakao ids fit in a signed long.
  if (typeof id === 'string' && /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= MAX_USER_ID) return id;
  throw new KakaoResponseError({ reason: 'bad_shape', operation, status: 200 });
}

function requireSecretArg(method: string, name: string, value: unknown, pattern: RegExp): void {
  if (typeof value !== 'string' || !pattern.test(value)) {
    // Never quote the value: it is a credential.
    throw configError(
      `${method}: "${name}" must be a non-empty string of printable ASCII characters${
        pattern === VERIFIER_PATTERN ? ' (an RFC 7636 code verifier, 43 to 128 characters)' : ''
      }; got ${typeof value === 'string' ? 'a malformed string' : typeof value}.`,
    );
  }
}

function timeout(name: string, value: unknown, fallback: number): number {
  const ms = requirePositiveInt(WHAT, name, value, fallback);
  if (ms > MAX_TIMEOUT_MS) {
    throw configError(`${WHAT}: "${name}" must be at most ${MAX_TIMEOUT_MS} ms (got ${ms}).`);
  }
  return ms;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function isPositiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
