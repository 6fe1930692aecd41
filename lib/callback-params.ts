/** Length caps applied to callback parameters before any other work (nothing oversized reaches a store or Kakao). */
export const CALLBACK_LIMITS = Object.freeze({ stateMaxLength: 128, codeMaxLength: 512 });

/** Why a callback query was rejected. Each value maps to a fixed, non-reflective failure. */
export type CallbackParamProblem =
  | 'missing_state'
  | 'invalid_state'
  | 'missing_code'
  | 'invalid_code'
  | 'invalid_error'
  | 'invalid_iss'
  | 'unexpected_parameter'
  | 'ambiguous';

/**
 * A parsed callback query: either a code or an authorization-server error, always with its `state`.
 * `error_description` and `error_uri` are never returned (attacker-controlled text and an open redirect).
 */
export type CallbackParams =
  | { ok: true; state: string; code: string; error?: undefined }
  | { ok: true; state: string; error: string; code?: undefined }
  | { ok: false; reason: CallbackParamProblem };

const STATE_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${CALLBACK_LIMITS.stateMaxLength}}$`);
const CODE_PATTERN = new RegExp(`^[A-Za-z0-9._~+/=-]{1,${CALLBACK_LIMITS.codeMaxLength}}$`);
const ERROR_PATTERN = /^[a-z_]{1,64}$/;
// Implicit/hybrid-flow leftovers: this client only ever asks for response_type=code.
const FORBIDDEN_PARAMETERS = ['access_token', 'id_token', 'token_type'] as const;

/**
 * Strictly parses the query of the OAuth callback.
 *
 * `code`, `state`, `error` and `iss` must each be a single non-empty string in its alphabet: arrays
 * (repeated parameters, `state[]=`), objects (`state[$ne]=`), numbers and empty strings are invalid, and no
 * value is ever converted with `String()`. `state` is required, also next to `error`. Exactly one of
 * `code` and `error` must be present. `iss`, when present, must equal `options.issuer` exactly. Any
 * `access_token`, `id_token` or `token_type` parameter rejects the request. `error_description`,
 * `error_uri` and unknown parameters are ignored.
 *
 * Checks run in this order, and the first failure is reported: forbidden parameters, `state`, `iss`,
 * presence of `code`/`error`, then the value of `code` or `error`.
 *
 * @param query - `req.query` as Express produced it (any query parser), or anything else.
 * @param options.issuer - The issuer `iss` must equal when Kakao sends it. Default: none, so any `iss`
 *   is rejected.
 * @example
 * ```ts
 * import type { Request, Response } from 'express';
 * declare const req: Request;
 * declare const res: Response;
 * const params = parseCallbackParams(req.query, { issuer: 'https://kauth.kakao.com' });
 * if (!params.ok) res.status(400).send(params.reason);
 * ```
 */
export function parseCallbackParams(query: unknown, options: { issuer?: string } = {}): CallbackParams {
  const q = isObject(query) ? query : {};

  for (const name of FORBIDDEN_PARAMETERS) {
    if (ownValue(q, name) !== undefined) return { ok: false, reason: 'unexpected_parameter' };
  }

  const rawState = ownValue(q, 'state');
  if (rawState === undefined) return { ok: false, reason: 'missing_state' };
  if (typeof rawState !== 'string' || !STATE_PATTERN.test(rawState))
    return { ok: false, reason: 'invalid_state' };
  const state = rawState;

  const iss = ownValue(q, 'iss');
  if (
    iss !== undefined &&
    (options.issuer === undefined || typeof iss !== 'string' || iss !== options.issuer)
  ) {
    return { ok: false, reason: 'invalid_iss' };
  }

  const code = ownValue(q, 'code');
  const error = ownValue(q, 'error');
  if (code !== undefined && error !== undefined) return { ok: false, reason: 'ambiguous' };
  if (error !== undefined) {
    if (typeof error !== 'string' || !ERROR_PATTERN.test(error))
      return { ok: false, reason: 'invalid_error' };
    return { ok: true, state, error };
  }
  if (code === undefined) return { ok: false, reason: 'missing_code' };
  if (typeof code !== 'string' || !CODE_PATTERN.test(code)) return { ok: false, reason: 'invalid_code' };
  return { ok: true, state, code };
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * Reads an own data property only: Express 5's query objects have a null prototype, and an inherited
 * property or a getter must never count as a parameter.
 */
function ownValue(object: object, name: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, name);
  return descriptor !== undefined && 'value' in descriptor ? (descriptor.value as unknown) : undefined;
}
