/**
 * Kakao's user APIs beyond login: consent items, service terms, manual sign-up, user properties and
 * OIDC user info (methods of `KakaoClient`), plus the argument checks every client shares. Arguments
 * are validated before anything is sent; answers are validated by `./kakao-wire`.
 */

import { configError } from './config';
import type { HttpOptions } from './http';
import type {
  KakaoOidcUserInfo,
  KakaoRevokedServiceTerms,
  KakaoScopes,
  KakaoServiceTerms,
} from './kakao-types';
import {
  parseOidcUserInfo,
  parseRevokedServiceTerms,
  parseScopes,
  parseServiceTerms,
  responseUserId,
} from './kakao-wire';
import { isPlainObject } from './util';

// RFC 6750 b64token plus the characters Kakao tokens are seen to use; anything else cannot go in a header.
const TOKEN_PATTERN = /^[\x21-\x7e]{1,4096}$/;
const VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Options of `getUser` (both clients). */
export interface KakaoGetUserOptions {
  /** Restrict the answer to these items, e.g. `['kakao_account.email']`. Default: everything consented. */
  propertyKeys?: readonly string[];
  /** Ask for `https` image URLs. Default: the client's `secureResource` (`true` unless turned off). */
  secureResource?: boolean;
}

/** A consent item id or service-terms tag as Kakao's console allows them. */
const ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** A user property key (console → Kakao Login → User properties). */
const PROPERTY_KEY = /^[A-Za-z0-9_]{1,64}$/;
const PROPERTY_PATH = /^[A-Za-z0-9_.]{1,64}$/;
const MAX_PROPERTY_LENGTH = 2048;

function idList(
  method: string,
  name: string,
  value: unknown,
  example: string,
  allowEmpty: boolean,
): string[] {
  if (
    !Array.isArray(value) ||
    (!allowEmpty && value.length === 0) ||
    value.length > 100 ||
    !value.every((item) => typeof item === 'string' && ID.test(item))
  ) {
    throw configError(
      `${method}: "${name}" must be ${allowEmpty ? 'an' : 'a non-empty'} array of at most 100 ids such as ${example}.`,
    );
  }
  return [...new Set(value as string[])];
}

export function requireSecretArg(method: string, name: string, value: unknown, pattern: RegExp): void {
  if (typeof value !== 'string' || !pattern.test(value)) {
    // Never quote the value: it is a credential.
    throw configError(
      `${method}: "${name}" must be a non-empty string of printable ASCII characters${
        pattern === VERIFIER_PATTERN ? ' (an RFC 7636 code verifier, 43 to 128 characters)' : ''
      }; got ${typeof value === 'string' ? 'a malformed string' : typeof value}.`,
    );
  }
}

/** Checks a token or code argument: printable ASCII, at most 4096 characters. Never quotes it. */
export function requireAccessToken(method: string, value: unknown, name = 'accessToken'): void {
  requireSecretArg(method, name, value, TOKEN_PATTERN);
}

/** Checks a PKCE code verifier (RFC 7636: 43 to 128 unreserved characters). Never quotes it. */
export function requireCodeVerifier(method: string, value: unknown): void {
  requireSecretArg(method, 'codeVerifier', value, VERIFIER_PATTERN);
}

/**
 * The query of `/v2/user/me` for these options: `property_keys` when given, `secure_resource=true` when
 * asked for (per call, else by the client default), `secure_resource=false` only when a call asks for it.
 * Shared with the admin client.
 */
export function userMeQuery(
  method: string,
  options: KakaoGetUserOptions,
  secureByDefault: boolean,
): Record<string, string> {
  if (typeof options !== 'object' || options === null) {
    throw configError(
      `${method}: options must be an object such as { propertyKeys: ["kakao_account.email"] }.`,
    );
  }
  const query: Record<string, string> = {};
  const { propertyKeys, secureResource } = options;
  // Kakao wants a JSON array inside the query parameter.
  if (propertyKeys !== undefined) query.property_keys = propertyKeysParam(method, propertyKeys);
  if (secureResource !== undefined && typeof secureResource !== 'boolean') {
    throw configError(`${method}: "secureResource" must be true or false (got ${typeof secureResource}).`);
  }
  if (secureResource ?? secureByDefault) query.secure_resource = 'true';
  else if (secureResource === false) query.secure_resource = 'false';
  return query;
}

/** `scopes` as Kakao wants it: a JSON array inside a form or query field. */
export function scopesParam(method: string, scopes: unknown, allowEmpty = false): string {
  return JSON.stringify(idList(method, 'scopes', scopes, '["account_email"]', allowEmpty));
}

/** `tags` as Kakao wants it: comma-separated. */
export function tagsParam(method: string, tags: unknown): string {
  return idList(method, 'tags', tags, '["terms_of_service"]', false).join(',');
}

/** `property_keys` for `/v2/user/me`: a JSON array of keys such as `kakao_account.email`. */
export function propertyKeysParam(method: string, keys: unknown): string {
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && PROPERTY_PATH.test(k))) {
    throw configError(
      `${method}: "propertyKeys" must be an array of Kakao property keys such as ["kakao_account.email"].`,
    );
  }
  return JSON.stringify(keys);
}

/** `properties` for sign-up and `update_profile`: a JSON object of strings. */
export function propertiesParam(method: string, properties: unknown, allowEmpty: boolean): string {
  const hint = `${method}: "properties" must be an object of strings keyed by user property keys registered in the Kakao console, such as { tier: "gold" }`;
  if (!isPlainObject(properties)) throw configError(`${hint}.`);
  const entries = Object.entries(properties);
  if (entries.length === 0 && !allowEmpty) throw configError(`${hint}; got an empty object.`);
  for (const [key, value] of entries) {
    if (!PROPERTY_KEY.test(key)) throw configError(`${hint}; a key is not a property key.`);
    if (typeof value !== 'string' || value.length > MAX_PROPERTY_LENGTH) {
      throw configError(
        `${hint}; the value of "${key}" is not a string of at most ${MAX_PROPERTY_LENGTH} characters.`,
      );
    }
  }
  return JSON.stringify(Object.fromEntries(entries));
}

/** Checks the `result` option of `getServiceTerms`. */
export function serviceTermsResult(value: unknown): string | undefined {
  if (value === undefined || value === 'agreed_service_terms' || value === 'app_service_terms') return value;
  throw configError(
    'getServiceTerms: "result" must be "agreed_service_terms" (what the user agreed to, Kakao\'s default) or "app_service_terms" (every term of the app).',
  );
}

/** What a user-API method asks of the transport besides the method and path. */
export interface ApiCall {
  query?: Record<string, string>;
  form?: Record<string, string | undefined>;
  http?: HttpOptions;
  /** Only the status matters (logout): a 200 without the documented body still counts. */
  statusOnly?: boolean;
}

/** One Bearer call to kapi, answering the parsed JSON object (errors already mapped). */
export type KapiCall = (
  operation: string,
  method: 'GET' | 'POST',
  path: string,
  accessToken: string,
  call?: ApiCall,
) => Promise<Record<string, unknown>>;

/**
 * Kakao's user APIs beyond login (consent items, service terms, manual sign-up, user properties, OIDC
 * user info), as methods of {@link KakaoClient}, which extends this class. Not constructed directly.
 */
export class KakaoUserApis {
  readonly #kapi: KapiCall;

  /** @param kapi - How to reach kapi; supplied by {@link KakaoClient}. */
  constructor(kapi: KapiCall) {
    this.#kapi = kapi;
  }

  /**
   * Lists the app's consent items and which the user agreed to (`GET /v2/user/scopes`).
   *
   * @param options.scopes - Only these items. Default: every item of the app.
   * @throws {KakaoApiError} e.g. `-401` for a dead token; {@link KakaoResponseError} as `getUser`;
   *   `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed argument.
   */
  async getScopes(accessToken: string, options: { scopes?: readonly string[] } = {}): Promise<KakaoScopes> {
    requireAccessToken('getScopes', accessToken);
    const query: Record<string, string> = {};
    if (options.scopes !== undefined) query.scopes = scopesParam('getScopes', options.scopes);
    return parseScopes(
      'scopes',
      await this.#kapi('scopes', 'GET', '/v2/user/scopes', accessToken, { query }),
    );
  }

  /**
   * Revokes the user's consent to some items (`POST /v2/user/revoke/scopes`); only items whose
   * `revocable` is `true` can be revoked. Returns the items afterwards.
   *
   * @throws {KakaoApiError} `-3` (403) for an item that cannot be revoked, `-2` for an unknown one.
   * @throws {KakaoResponseError} as `getUser`; `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed argument.
   */
  async revokeScopes(accessToken: string, scopes: readonly string[]): Promise<KakaoScopes> {
    requireAccessToken('revokeScopes', accessToken);
    const form = { scopes: scopesParam('revokeScopes', scopes) };
    return parseScopes(
      'revoke_scopes',
      await this.#kapi('revoke_scopes', 'POST', '/v2/user/revoke/scopes', accessToken, { form }),
    );
  }

  /**
   * Reads the user's consent to the app's service terms (`GET /v2/user/service_terms`, Kakao Sync).
   *
   * @param options.tags - Only these terms. Default: all.
   * @param options.result - `agreed_service_terms` (Kakao's default) or `app_service_terms` (every term).
   * @throws {KakaoApiError} e.g. `-3` when Kakao Sync is not enabled; {@link KakaoResponseError} as
   *   `getUser`; `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed argument.
   */
  async getServiceTerms(
    accessToken: string,
    options: { tags?: readonly string[]; result?: 'agreed_service_terms' | 'app_service_terms' } = {},
  ): Promise<KakaoServiceTerms> {
    requireAccessToken('getServiceTerms', accessToken);
    const query: Record<string, string> = {};
    if (options.tags !== undefined) query.tags = tagsParam('getServiceTerms', options.tags);
    const result = serviceTermsResult(options.result);
    if (result !== undefined) query.result = result;
    const body = await this.#kapi('service_terms', 'GET', '/v2/user/service_terms', accessToken, { query });
    return parseServiceTerms('service_terms', body);
  }

  /**
   * Revokes the user's consent to service terms (`POST /v2/user/revoke/service_terms`); only terms whose
   * `revocable` is `true` can be revoked.
   *
   * @throws {KakaoApiError} e.g. `-3` for a term that cannot be revoked; {@link KakaoResponseError} as
   *   `getUser`; `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed argument.
   */
  async revokeServiceTerms(accessToken: string, tags: readonly string[]): Promise<KakaoRevokedServiceTerms> {
    requireAccessToken('revokeServiceTerms', accessToken);
    const form = { tags: tagsParam('revokeServiceTerms', tags) };
    const body = await this.#kapi(
      'revoke_service_terms',
      'POST',
      '/v2/user/revoke/service_terms',
      accessToken,
      { form },
    );
    return parseRevokedServiceTerms('revoke_service_terms', body);
  }

  /**
   * Completes the sign-up of a preregistered user (`POST /v1/user/signup`), for apps with "auto-link"
   * OFF in the console. Until then `/v2/user/me` answers `has_signed_up: false` (`profile.hasSignedUp`)
   * and little else; Kakao unlinks users who stay preregistered for 24 hours (unlink webhook reason
   * `INCOMPLETE_SIGN_UP`).
   *
   * @param options.properties - User properties to store at sign-up.
   * @throws {KakaoApiError} `-102` when the user is already signed up, `-201` for an unknown property key.
   * @throws {KakaoResponseError} as `getUser`; `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed argument.
   */
  async signup(
    accessToken: string,
    options: { properties?: Readonly<Record<string, string>> } = {},
  ): Promise<{ id: string }> {
    requireAccessToken('signup', accessToken);
    const properties =
      options.properties === undefined ? undefined : propertiesParam('signup', options.properties, true);
    const body = await this.#kapi('signup', 'POST', '/v1/user/signup', accessToken, { form: { properties } });
    return { id: responseUserId('signup', body.id) };
  }

  /**
   * Stores user properties (`POST /v1/user/update_profile`); the keys must be registered in the console
   * (Kakao Login → User properties).
   *
   * @throws {KakaoApiError} `-201` for an unknown property key; {@link KakaoResponseError} as `getUser`;
   *   `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed argument.
   */
  async updateProfile(
    accessToken: string,
    properties: Readonly<Record<string, string>>,
  ): Promise<{ id: string }> {
    requireAccessToken('updateProfile', accessToken);
    const form = { properties: propertiesParam('updateProfile', properties, false) };
    const body = await this.#kapi('update_profile', 'POST', '/v1/user/update_profile', accessToken, { form });
    return { id: responseUserId('update_profile', body.id) };
  }

  /**
   * Reads the OpenID Connect user info (`GET /v1/oidc/userinfo`); needs a token issued with OIDC.
   *
   * @throws {KakaoApiError} e.g. `-401` for a dead token; {@link KakaoResponseError} as `getUser`
   *   (`bad_shape` when `sub` is not a user id); `TypeError` (`ERR_INVALID_ARG_VALUE`) on a malformed token.
   */
  async getOidcUserInfo(accessToken: string): Promise<KakaoOidcUserInfo> {
    requireAccessToken('getOidcUserInfo', accessToken);
    return parseOidcUserInfo(
      'oidc_userinfo',
      await this.#kapi('oidc_userinfo', 'GET', '/v1/oidc/userinfo', accessToken),
    );
  }
}
