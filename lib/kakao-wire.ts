/**
 * Reading Kakao's answers: token responses, the two error shapes (kauth's OAuth body, kapi's
 * `{ code, msg }`), and what each configuration error means for the person who set the app up.
 * Pure functions; no I/O.
 */

import { isKakaoError, KakaoApiError, KakaoError, KakaoResponseError, KakaoTokenError } from './errors';
import type { JsonResponse } from './http';
import { isKakaoId, parseKakaoId } from './kakao-id';
import type {
  KakaoOidcUserInfo,
  KakaoRevokedServiceTerms,
  KakaoScope,
  KakaoScopes,
  KakaoServiceTerm,
  KakaoServiceTerms,
  KakaoTokenResponse,
} from './kakao-types';
import { isPlainObject } from './util';

/** A word safe to carry in an error property or a log line. */
const WORD = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_STRING_LENGTH = 2048;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Validates a token-endpoint success body and returns a fresh object with only the known fields, so
 * nothing unexpected from the wire travels further.
 *
 * `expires_in` is RECOMMENDED, not required, by RFC 6749 §5.1. When Kakao leaves it out the lifetime
 * is unknown: the result then has no `expires_in`, and a caller should keep using the token until
 * Kakao answers -401 and refresh then.
 *
 * @throws {KakaoResponseError} `non_json` when there is no JSON body, `bad_shape` when a field is
 *   missing or mistyped. The body is never attached.
 * @example
 * ```ts
 * const tokens = parseTokenResponse('token', { token_type: 'bearer', access_token: 'a1b2c3' });
 * tokens.expires_in; // undefined: refresh when Kakao answers -401
 * ```
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
  if (expiresIn !== undefined && !isPositiveNumber(expiresIn)) throw fail('bad_shape');
  if (refreshToken !== undefined && !isNonEmptyString(refreshToken)) throw fail('bad_shape');
  if (refreshTokenExpiresIn !== undefined && !isPositiveNumber(refreshTokenExpiresIn)) {
    throw fail('bad_shape');
  }
  if (scope !== undefined && typeof scope !== 'string') throw fail('bad_shape');
  if (idToken !== undefined && !isNonEmptyString(idToken)) throw fail('bad_shape');
  const result: KakaoTokenResponse = { token_type: 'bearer', access_token: accessToken };
  if (expiresIn !== undefined) result.expires_in = expiresIn;
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
 * Maps a non-200 answer of kapi: `{ code, msg }` becomes a {@link KakaoApiError} (with the scope lists
 * of -402 and Kakao's `reason` when present), anything else a {@link KakaoResponseError} `http_status`.
 */
export function apiFailure(operation: string, response: JsonResponse): KakaoError {
  const body = response.body;
  if (response.status >= 400 && isPlainObject(body) && Number.isSafeInteger(body.code)) {
    return new KakaoApiError({
      status: response.status,
      apiCode: body.code as number,
      msg: typeof body.msg === 'string' ? body.msg : undefined,
      requiredScopes: wordList(body.required_scopes),
      allowedScopes: wordList(body.allowed_scopes),
      reason: typeof body.reason === 'string' && WORD.test(body.reason) ? body.reason : undefined,
    });
  }
  return new KakaoResponseError({ reason: 'http_status', operation, status: response.status });
}

function wordList(value: unknown): readonly string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return Object.freeze(value.filter((s): s is string => typeof s === 'string' && WORD.test(s)));
}

/**
 * Token-endpoint errors that mean the app is set up wrongly, never that the user did something:
 * retrying or logging in again cannot fix them. Sources: Kakao's Kakao Login troubleshooting page
 * (KOE009, KOE010, KOE101) and repeated reports for KOE303.
 */
const TOKEN_CONFIGURATION_HINTS: Readonly<Record<string, string>> = Object.freeze({
  KOE303:
    'Kakao refused the code because redirect_uri differs from the one sent to /oauth/authorize (KOE303). ' +
    'Use one callbackURL for both steps; behind a proxy, make sure the scheme and host the app builds match the registered URI.',
  KOE009:
    'Kakao refused the app platform (KOE009 misconfigured): register the site domain of callbackURL under ' +
    '[App] > [Platform] > Web in the Kakao console.',
  KOE101:
    'Kakao does not know this client_id (KOE101): clientID must be the REST API key of the app, copied from ' +
    '[App] > [Platform keys] in the Kakao console.',
  KOE010:
    'Kakao refused the client secret (KOE010 invalid_client): when "Client secret" is ON for this REST API key, ' +
    'set clientSecret to that key’s secret (each REST API key has its own); when it is OFF, remove clientSecret.',
});

/**
 * The fix for a token-endpoint error that is a configuration mistake (KOE303 redirect URI mismatch,
 * KOE009 platform mismatch, KOE101 unknown client, KOE010 wrong or missing client secret), or
 * `undefined` for anything else. The text names what to change in the app or the Kakao console and
 * never quotes a value from the request; it is meant for the server log, not for the user.
 *
 * @example
 * ```ts
 * declare const client: KakaoClient;
 * declare const code: string, redirectUri: string, codeVerifier: string;
 * try {
 *   await client.exchangeCode({ code, redirectUri, codeVerifier });
 * } catch (error) {
 *   const hint = tokenErrorConfigurationHint(error);
 *   if (hint) console.error(hint); // and show the user "login is not available right now"
 * }
 * ```
 */
export function tokenErrorConfigurationHint(error: unknown): string | undefined {
  if (!isKakaoError(error) || error.code !== 'ERR_KAKAO_TOKEN') return undefined;
  const code = (error as KakaoTokenError).errorCode;
  return code === undefined ? undefined : TOKEN_CONFIGURATION_HINTS[code];
}

/**
 * kapi codes that point at the app's setup rather than at the user or a transient fault, from Kakao's
 * REST API error-code table (https://developers.kakao.com/docs/latest/ko/rest-api/error-code).
 */
const API_CONFIGURATION_HINTS: Readonly<Record<number, string>> = Object.freeze({
  [-3]:
    'Kakao answered -3: a feature this API needs (consent item, Kakao Sync simple signup, service setting) is not ' +
    'enabled for the app, or the API is not allowed under the app’s available APIs. Enable it in the Kakao console.',
  [-5]: 'Kakao answered -5: the app has no permission for this API; request the permission (review) in the Kakao console.',
  [-12]: 'Kakao answered -12: the Kakao Developers app or developer account is suspended.',
  [-13]:
    'Kakao answered -13, a code its published error tables do not list. Treat it as an app-side refusal ' +
    '(do not retry) and check the app’s settings in the Kakao console.',
  [-903]:
    'Kakao answered -903: the app key belongs to a developer who is not registered (or the access token was ' +
    'issued with such a key). Use a key of an app owned by a registered Kakao Developers account.',
});

/**
 * The fix for a kapi error that is a configuration problem (-3, -5, -12, -13, -903), or `undefined`.
 * For the server log.
 *
 * @example
 * ```ts
 * declare const error: unknown; // e.g. caught from client.getUser(accessToken)
 * const hint = apiErrorConfigurationHint(error);
 * if (hint) console.warn(hint);
 * ```
 */
export function apiErrorConfigurationHint(error: unknown): string | undefined {
  if (!isKakaoError(error) || error.code !== 'ERR_KAKAO_API') return undefined;
  return API_CONFIGURATION_HINTS[(error as KakaoApiError).apiCode];
}

/** A Kakao user id in a response, as an exact decimal string; anything else is `bad_shape`. */
export function responseUserId(operation: string, id: unknown): string {
  const parsed = parseKakaoId(id);
  if (parsed === undefined) throw badShape(operation);
  return parsed;
}

/** The `KakaoResponseError` for a 200 answer of the wrong shape. */
export function badShape(operation: string): KakaoResponseError {
  return new KakaoResponseError({ reason: 'bad_shape', operation, status: 200 });
}

function optionalBoolean(operation: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badShape(operation);
  return value;
}

function requireString(operation: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_STRING_LENGTH)
    throw badShape(operation);
  return value;
}

function requireBoolean(operation: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw badShape(operation);
  return value;
}

function list(operation: string, value: unknown): Record<string, unknown>[] {
  // Kakao leaves the list out when there is nothing to show.
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isPlainObject)) throw badShape(operation);
  return value;
}

/**
 * `GET /v2/user/scopes` and `POST /v2/user/revoke/scopes`.
 * @throws {KakaoResponseError} `bad_shape` when a field is missing or mistyped.
 */
export function parseScopes(operation: string, body: Record<string, unknown>): KakaoScopes {
  const scopes = list(operation, body.scopes).map((item): KakaoScope => {
    const scope: KakaoScope = {
      id: requireString(operation, item.id),
      displayName: typeof item.display_name === 'string' ? item.display_name : '',
      type: requireString(operation, item.type),
      using: requireBoolean(operation, item.using),
      agreed: requireBoolean(operation, item.agreed),
    };
    const revocable = optionalBoolean(operation, item.revocable);
    const delegated = optionalBoolean(operation, item.delegated);
    if (revocable !== undefined) scope.revocable = revocable;
    if (delegated !== undefined) scope.delegated = delegated;
    return scope;
  });
  return { id: responseUserId(operation, body.id), scopes };
}

/**
 * `GET /v2/user/service_terms`.
 * @throws {KakaoResponseError} `bad_shape` when a field is missing or mistyped.
 */
export function parseServiceTerms(operation: string, body: Record<string, unknown>): KakaoServiceTerms {
  const serviceTerms = list(operation, body.service_terms).map((item): KakaoServiceTerm => {
    const term: KakaoServiceTerm = {
      tag: requireString(operation, item.tag),
      required: requireBoolean(operation, item.required),
      agreed: requireBoolean(operation, item.agreed),
      revocable: requireBoolean(operation, item.revocable),
    };
    if (typeof item.agreed_at === 'string' && RFC3339.test(item.agreed_at)) {
      const at = new Date(item.agreed_at);
      if (!Number.isNaN(at.getTime())) term.agreedAt = at;
    }
    if (typeof item.agreed_by === 'string' && WORD.test(item.agreed_by)) term.agreedBy = item.agreed_by;
    return term;
  });
  return { id: responseUserId(operation, body.id), serviceTerms };
}

/**
 * `POST /v2/user/revoke/service_terms`.
 * @throws {KakaoResponseError} `bad_shape` when a field is missing or mistyped.
 */
export function parseRevokedServiceTerms(
  operation: string,
  body: Record<string, unknown>,
): KakaoRevokedServiceTerms {
  const revokedServiceTerms = list(operation, body.revoked_service_terms).map((item) => ({
    tag: requireString(operation, item.tag),
    agreed: requireBoolean(operation, item.agreed),
  }));
  return { id: responseUserId(operation, body.id), revokedServiceTerms };
}

const USERINFO_STRINGS = [
  'name',
  'nickname',
  'picture',
  'email',
  'gender',
  'birthdate',
  'phone_number',
] as const;

/**
 * `GET /v1/oidc/userinfo`. `sub` must be a Kakao user id; other claims of the wrong type are left out.
 * @throws {KakaoResponseError} `bad_shape` when `sub` is missing or not a user id.
 */
export function parseOidcUserInfo(operation: string, body: Record<string, unknown>): KakaoOidcUserInfo {
  if (!isKakaoId(body.sub)) throw badShape(operation);
  const info: KakaoOidcUserInfo = { sub: body.sub };
  for (const claim of USERINFO_STRINGS) {
    const value = body[claim];
    if (typeof value === 'string' && value !== '' && value.length <= MAX_STRING_LENGTH) info[claim] = value;
  }
  if (typeof body.email_verified === 'boolean') info.email_verified = body.email_verified;
  if (typeof body.phone_number_verified === 'boolean')
    info.phone_number_verified = body.phone_number_verified;
  return info;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function isPositiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}
