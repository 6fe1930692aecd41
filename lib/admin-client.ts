/**
 * The only module that sends the admin key. It calls Kakao's admin-key APIs on kapi (unlink, logout,
 * user info, several users at once and the user-id list) as `Authorization: KakaoAK <admin key>` with
 * `target_id_type=user_id`, through the same transport and error mapping as `KakaoClient`.
 */

import {
  checkOptionNames,
  configError,
  DEFAULT_API_ORIGIN,
  requireOrigin,
  requirePositiveInt,
} from './config';
import { KakaoApiError, KakaoError, KakaoResponseError } from './errors';
import { requestJson, resolveTransportOptions, type HttpOptions, type JsonResponse } from './http';
import { isKakaoId, parseKakaoId } from './kakao-id';
import type { KakaoUserMeResponse } from './kakao-types';
import { propertyKeysParam, userMeQuery, type KakaoGetUserOptions } from './kakao-user-apis';
import { apiFailure, badShape } from './kakao-wire';
import { isPlainObject, MAX_TIMEOUT_MS } from './util';

/** Options of {@link KakaoAdminClient}. */
export interface KakaoAdminClientOptions {
  /**
   * The app's admin key (Kakao console → App → App keys → Admin key), sent as `Authorization: KakaoAK …`.
   * Server-side only: it acts for every user of the app.
   */
  adminKey: string;
  /** Origin of the API server. Default: `https://kapi.kakao.com`. */
  apiOrigin?: string;
  /** Deadline of each call, in ms. Default: `10000`. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default: `65536`. */
  maxResponseBytes?: number;
  /** Ask `/v2/user/me` and `/v2/app/users` for `https` image URLs (`secure_resource=true`). Default: `true`. */
  secureResource?: boolean;
  /** A fetch implementation to use. Default: none, which means the built-in keep-alive node:http(s) transport. */
  fetch?: typeof globalThis.fetch;
}

/** Options of {@link KakaoAdminClient.listUserIds}. */
export interface KakaoListUserIdsOptions {
  /** Ids per page, 1 to 100. Default: `100` (Kakao's). */
  limit?: number;
  /**
   * Where to start, as returned in `nextFromId`. Kakao does not document whether `from_id` itself is
   * included; {@link KakaoAdminClient.listAllUserIds} copes with both. Default: the first id.
   */
  fromId?: string;
  /** Id order. Default: `'asc'` (Kakao's). */
  order?: 'asc' | 'desc';
}

/** One page of `GET /v1/user/ids`. */
export interface KakaoUserIdsPage {
  /** Linked user ids, as exact decimal strings (19-digit ids included). */
  ids: string[];
  /** Pass as `fromId` to read the next page; `undefined` on the last page. */
  nextFromId: string | undefined;
}

const OPTION_NAMES = [
  'adminKey',
  'apiOrigin',
  'timeoutMs',
  'maxResponseBytes',
  'secureResource',
  'fetch',
] as const;
const WHAT = 'KakaoAdminClient';
// Kakao's admin keys are 32 hex characters; any printable ASCII is accepted so that emulators and
// future key formats work, but nothing that could break or smuggle a header.
const ADMIN_KEY_PATTERN = /^[\x21-\x7e]{1,256}$/;

/**
 * Client for Kakao's admin-key APIs. The key lives in a private field: it is never enumerable, never
 * shown by `util.inspect` or `JSON.stringify`, and never copied into an error.
 *
 * @example
 * ```ts
 * const admin = new KakaoAdminClient({ adminKey: process.env.KAKAO_ADMIN_KEY! });
 * await admin.unlink('4120937465');
 * for await (const id of admin.listAllUserIds()) console.log(id);
 * ```
 */
export class KakaoAdminClient {
  /** Origin of the API server, without a trailing slash. */
  readonly apiOrigin: string;
  readonly #adminKey: string;
  readonly #http: Readonly<HttpOptions>;
  readonly #secureResource: boolean;

  /**
   * Validates the options once; the caller's object is copied, never kept or changed.
   *
   * @throws {TypeError} with code `ERR_INVALID_ARG_VALUE` on a missing or malformed option or an unknown
   *   option name. The admin key is never quoted.
   */
  constructor(options: KakaoAdminClientOptions) {
    if (typeof options !== 'object' || options === null) {
      throw configError(
        `${WHAT}: options must be an object such as { adminKey: process.env.KAKAO_ADMIN_KEY }.`,
      );
    }
    checkOptionNames(WHAT, options, OPTION_NAMES);
    this.#adminKey = requireAdminKey(options.adminKey);
    this.apiOrigin = requireOrigin(
      WHAT,
      'apiOrigin',
      options.apiOrigin ?? DEFAULT_API_ORIGIN,
      DEFAULT_API_ORIGIN,
    );
    const timeoutMs = requirePositiveInt(WHAT, 'timeoutMs', options.timeoutMs, 10_000);
    if (timeoutMs > MAX_TIMEOUT_MS) {
      throw configError(`${WHAT}: "timeoutMs" must be at most ${MAX_TIMEOUT_MS} ms (got ${timeoutMs}).`);
    }
    const secureResource = options.secureResource ?? true;
    if (typeof secureResource !== 'boolean') {
      throw configError(`${WHAT}: "secureResource" must be true or false (default true).`);
    }
    this.#secureResource = secureResource;
    const { maxResponseBytes, fetch: fetchFn } = resolveTransportOptions(WHAT, options);
    this.#http = Object.freeze({ fetch: fetchFn, timeoutMs, maxResponseBytes });
    Object.freeze(this);
  }

  /**
   * Unlinks the user from the app (`POST /v1/user/unlink`): Kakao revokes their consents and every
   * token. Kakao sends no unlink webhook for an unlink the app requests, so clean up the user's data
   * yourself. Idempotent: a user who is not linked (`-101`) counts as done.
   *
   * @returns the user's id and whether they were already unlinked.
   * @throws {KakaoApiError} when Kakao answers `{ code, msg }` other than `-101`, e.g. `-401` for a bad admin key.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when `userId` is not a Kakao user id.
   */
  async unlink(userId: string): Promise<{ id: string; alreadyUnlinked: boolean }> {
    requireUserIdArg('unlink', 'userId', userId);
    try {
      const body = await this.#call('unlink', 'POST', '/v1/user/unlink', targetOf(userId));
      return { id: responseUserId('unlink', body.id, userId), alreadyUnlinked: false };
    } catch (error) {
      if (error instanceof KakaoApiError && error.apiCode === -101)
        return { id: userId, alreadyUnlinked: true };
      throw error;
    }
  }

  /**
   * Expires every access and refresh token of the user (`POST /v1/user/logout` with the admin key);
   * the user stays linked and their Kakao browser session is untouched.
   *
   * @throws {KakaoApiError} e.g. `-101` when the user is not linked, `-401` for a bad admin key.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when `userId` is not a Kakao user id.
   */
  async logout(userId: string): Promise<{ id: string }> {
    requireUserIdArg('logout', 'userId', userId);
    const body = await this.#call('logout', 'POST', '/v1/user/logout', targetOf(userId));
    return { id: responseUserId('logout', body.id, userId) };
  }

  /**
   * Reads a linked user (`GET /v2/user/me` with `target_id`), showing what they consented to. The
   * returned `id` is the exact decimal string.
   *
   * @throws {KakaoApiError} e.g. `-101` when the user is not linked, `-401` for a bad admin key.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when `userId` or an option is malformed.
   */
  async getUser(
    userId: string,
    options: KakaoGetUserOptions = {},
  ): Promise<KakaoUserMeResponse & { id: string }> {
    requireUserIdArg('getUser', 'userId', userId);
    const query = { ...targetOf(userId), ...userMeQuery('getUser', options, this.#secureResource) };
    const body = await this.#call('user_me', 'GET', '/v2/user/me', query);
    return { ...(body as unknown as KakaoUserMeResponse), id: responseUserId('user_me', body.id, userId) };
  }

  /**
   * Reads one page of the app's linked user ids (`GET /v1/user/ids`). Kakao allows 100 calls a minute
   * per app; beyond that it answers `-10` (HTTP 429).
   *
   * The next page is requested from this client's `apiOrigin` with `from_id`, never by following
   * Kakao's `after_url`, so the admin key only ever goes to the configured origin.
   *
   * @throws {KakaoApiError} e.g. `-10` when the rate limit is exceeded, `-401` for a bad admin key.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or `bad_shape`.
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when an option is malformed.
   */
  async listUserIds(options: KakaoListUserIdsOptions = {}): Promise<KakaoUserIdsPage> {
    const query = userIdsQuery(options);
    const body = await this.#call('user_ids', 'GET', '/v1/user/ids', query);
    const { elements, after_url: afterUrl } = body;
    if (!Array.isArray(elements)) throw badShape('user_ids');
    const ids = elements.map((element: unknown) => responseUserId('user_ids', element));
    if (afterUrl !== undefined && afterUrl !== null && typeof afterUrl !== 'string')
      throw badShape('user_ids');
    let nextFromId: string | undefined;
    if (typeof afterUrl === 'string' && afterUrl !== '') {
      nextFromId = fromIdOf(afterUrl) ?? ids[ids.length - 1];
      if (nextFromId === undefined) throw badShape('user_ids');
    }
    return { ids, nextFromId };
  }

  /**
   * Every linked user id, page by page (see {@link listUserIds}; `fromId` sets where to start), each id
   * once: Kakao does not document whether `from_id` is inclusive, so an id a page repeats from the one
   * before is skipped. Each page is one call against Kakao's limit of 100 calls a minute: with
   * `limit: 100` that is about 10,000 ids a minute.
   *
   * @throws {KakaoApiError | KakaoResponseError} as {@link listUserIds}, from the page where it happened;
   *   `KakaoResponseError` `bad_shape` when a page brings nothing new and does not advance (which would
   *   loop forever).
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when an option is malformed (on the first iteration).
   */
  async *listAllUserIds(options: KakaoListUserIdsOptions = {}): AsyncIterable<string> {
    // Validated before the first call so that a typo fails the same way as in listUserIds.
    userIdsQuery(options);
    const seen = new Set<string>();
    let fromId = options.fromId;
    for (;;) {
      const page = await this.listUserIds({ ...options, fromId });
      const fresh = page.ids.filter((id) => !seen.has(id));
      for (const id of fresh) {
        seen.add(id);
        yield id;
      }
      if (page.nextFromId === undefined || page.ids.length === 0) return;
      if (page.nextFromId === fromId && fresh.length === 0) throw badShape('user_ids');
      fromId = page.nextFromId;
    }
  }

  /**
   * Reads several linked users at once (`GET /v2/app/users`): at most 100 ids, or 20 with
   * `propertyKeys`. Users who are not linked are left out of the answer. Kakao's docs disagree on the
   * shape (a bare array in the examples, `{ elements: [...] }` in the table); both are accepted.
   *
   * @returns the users, each with its `id` as an exact decimal string, in Kakao's order.
   * @throws {KakaoApiError} e.g. `-2` for malformed ids, `-401` for a bad admin key.
   * @throws {KakaoResponseError} on timeout, network failure, redirect, a non-JSON or oversized answer, or
   *   `bad_shape` (also when an answer is about a user that was not asked for).
   * @throws {TypeError} (`ERR_INVALID_ARG_VALUE`) when an id or option is malformed.
   */
  async listUsers(
    userIds: readonly string[],
    options: Pick<KakaoGetUserOptions, 'propertyKeys'> = {},
  ): Promise<(KakaoUserMeResponse & { id: string })[]> {
    if (typeof options !== 'object' || options === null) {
      throw configError(
        'listUsers: options must be an object such as { propertyKeys: ["kakao_account.email"] }.',
      );
    }
    const max = options.propertyKeys === undefined ? 100 : 20;
    if (!Array.isArray(userIds) || userIds.length === 0 || userIds.length > max) {
      throw configError(
        `listUsers: "userIds" must be an array of 1 to ${max} Kakao user ids${max === 20 ? ' (20 with propertyKeys)' : ''}.`,
      );
    }
    for (const id of userIds) requireUserIdArg('listUsers', 'userIds', id);
    const wanted = new Set(userIds);
    // Written by hand: JSON.stringify of numbers would round 19-digit ids.
    const query: Record<string, string> = {
      target_id_type: 'user_id',
      target_ids: `[${[...wanted].join(',')}]`,
    };
    if (options.propertyKeys !== undefined)
      query.property_keys = propertyKeysParam('listUsers', options.propertyKeys);
    if (this.#secureResource) query.secure_resource = 'true';
    const body = await this.#call('app_users', 'GET', '/v2/app/users', query, true);
    // A bare array arrives wrapped as { elements } from #call, so both shapes read the same.
    const { elements } = body;
    if (!Array.isArray(elements) || !elements.every(isPlainObject)) throw badShape('app_users');
    return elements.map((user) => {
      const id = parseKakaoId(user.id);
      if (id === undefined || !wanted.has(id)) throw badShape('app_users');
      return { ...(user as unknown as KakaoUserMeResponse), id };
    });
  }

  /** One admin-key call; the answer is a JSON object, or also an array with `allowArray`. */
  async #call(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string>,
    allowArray = false,
  ): Promise<Record<string, unknown>> {
    const url = new URL(path, this.apiOrigin);
    const headers = { authorization: `KakaoAK ${this.#adminKey}` };
    let response: JsonResponse;
    if (method === 'GET') {
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      response = await requestJson(operation, url.href, { method, headers }, this.#http);
    } else {
      response = await requestJson(operation, url.href, { method, headers, form: params }, this.#http);
    }
    if (response.status !== 200) throw this.#scrub(apiFailure(operation, response));
    if (response.body === undefined) {
      throw new KakaoResponseError({ reason: 'non_json', operation, status: response.status });
    }
    if (isPlainObject(response.body)) return response.body;
    if (allowArray && Array.isArray(response.body)) return { elements: response.body };
    throw badShape(operation);
  }

  /**
   * `apiFailure` redacts long secrets from Kakao's `msg`, but a short admin key (an emulator's, a
   * test's) would survive it, and Kakao's -401 messages do quote app keys (`appKey(…) is already
   * deactivated`). Such a message is dropped whole.
   */
  #scrub(error: KakaoError): KakaoError {
    if (error instanceof KakaoApiError && error.msg?.includes(this.#adminKey)) {
      return new KakaoApiError({
        status: error.status,
        apiCode: error.apiCode,
        requiredScopes: error.requiredScopes,
      });
    }
    return error;
  }
}

function requireAdminKey(value: unknown): string {
  const hint =
    'the admin key from the Kakao console (App → App keys → Admin key), as a string of printable ASCII without spaces; ' +
    'keep it server-side only';
  if (typeof value !== 'string') {
    throw configError(
      `${WHAT}: "adminKey" must be ${hint}; got ${value === undefined ? 'nothing' : typeof value}.`,
    );
  }
  if (/^\s*kakaoak\s/i.test(value)) {
    throw configError(
      `${WHAT}: "adminKey" must be the key alone; leave out the "KakaoAK " prefix, it is added for you.`,
    );
  }
  if (!ADMIN_KEY_PATTERN.test(value)) {
    throw configError(
      `${WHAT}: "adminKey" must be ${hint}; got ${value === '' ? 'an empty string' : 'a string with spaces or other characters a header cannot carry'}.`,
    );
  }
  return value;
}

function requireUserIdArg(method: string, name: string, value: unknown): asserts value is string {
  if (!isKakaoId(value)) {
    // The value is not quoted: a credential passed here by mistake must not land in a log.
    throw configError(
      `${method}: "${name}" must be a Kakao user id, a string of 1 to 19 decimal digits without a leading zero (at most 9223372036854775807) such as "4120937465"; got ${
        typeof value === 'string' ? 'a string that is not one' : typeof value
      }.`,
    );
  }
}

function targetOf(userId: string): Record<string, string> {
  return { target_id_type: 'user_id', target_id: userId };
}

function userIdsQuery(options: KakaoListUserIdsOptions): Record<string, string> {
  if (typeof options !== 'object' || options === null) {
    throw configError('listUserIds: options must be an object such as { limit: 100, order: "asc" }.');
  }
  const query: Record<string, string> = {};
  const { limit, fromId, order } = options;
  if (limit !== undefined) {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw configError(`listUserIds: "limit" must be an integer from 1 to 100 (got ${String(limit)}).`);
    }
    query.limit = String(limit);
  }
  if (fromId !== undefined) {
    requireUserIdArg('listUserIds', 'fromId', fromId);
    query.from_id = fromId;
  }
  if (order !== undefined) {
    if (order !== 'asc' && order !== 'desc') {
      throw configError(
        `listUserIds: "order" must be "asc" or "desc" (got ${JSON.stringify(String(order)).slice(0, 40)}).`,
      );
    }
    query.order = order;
  }
  return query;
}

/** `from_id` of Kakao's `after_url`, when it is a valid user id. */
function fromIdOf(afterUrl: string): string | undefined {
  try {
    const fromId = new URL(afterUrl).searchParams.get('from_id');
    return isKakaoId(fromId) ? fromId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A user id from a response, as an exact decimal string (the JSON parser hands over ids beyond 2^53
 * as digit strings). With `expected`, the answer must be about that user.
 */
function responseUserId(operation: string, id: unknown, expected?: string): string {
  const text = parseKakaoId(id);
  if (text === undefined || (expected !== undefined && text !== expected)) throw badShape(operation);
  return text;
}
