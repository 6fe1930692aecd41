/**
 * Error classes. Every error carries a fixed `code` (`ERR_KAKAO_*`) so callers branch on codes, not
 * messages, and no error ever carries a token, an authorization code, a client secret or an admin
 * key: not in `message`, not in a property, not in `cause`.
 */

/** Every code an error of this library can carry. */
export type KakaoErrorCode =
  | 'ERR_KAKAO_TOKEN'
  | 'ERR_KAKAO_API'
  | 'ERR_KAKAO_RESPONSE'
  | 'ERR_KAKAO_ID_TOKEN'
  | 'ERR_KAKAO_TOKEN_DECRYPTION'
  | 'ERR_KAKAO_TOKEN_KEY_UNKNOWN'
  | 'ERR_KAKAO_TOKEN_STORE'
  | 'ERR_KAKAO_SESSION'
  | 'ERR_KAKAO_REAUTH_REQUIRED';

const BRAND = Symbol.for('kakao-login-express.error');

/** Base class of every error this library throws at run time (configuration mistakes are `TypeError`s). */
export class KakaoError extends Error {
  readonly code: KakaoErrorCode;

  constructor(code: KakaoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True for any error of this library (or, with `code`, for errors with that code), also across two
 * copies of the package, where `instanceof` would fail.
 *
 * @example
 * ```ts
 * import type { Response } from 'express';
 * declare const err: unknown; // e.g. caught from auth.getAccessToken(req)
 * declare const res: Response;
 * if (isKakaoError(err, 'ERR_KAKAO_REAUTH_REQUIRED')) res.redirect('/auth/kakao');
 * ```
 */
export function isKakaoError(value: unknown, code?: KakaoErrorCode): value is KakaoError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (value as KakaoError).code === code)
  );
}

/** The token endpoint (kauth) answered with an OAuth error body. */
export class KakaoTokenError extends KakaoError {
  /** HTTP status. */
  readonly status: number;
  /** OAuth `error`, e.g. `invalid_grant`. */
  readonly error: string;
  /** Kakao's `error_description`, with anything that looks like a code or token redacted. */
  readonly errorDescription: string | undefined;
  /** Kakao's `error_code`, e.g. `KOE320`. */
  readonly errorCode: string | undefined;

  constructor(init: { status: number; error: string; errorDescription?: string; errorCode?: string }) {
    super(
      'ERR_KAKAO_TOKEN',
      `Kakao token endpoint answered ${init.status} ${init.error}${init.errorCode ? ` (${init.errorCode})` : ''}`,
    );
    this.status = init.status;
    this.error = init.error;
    this.errorDescription = init.errorDescription === undefined ? undefined : redact(init.errorDescription);
    this.errorCode = init.errorCode;
  }
}

/** A Kakao API (kapi) call answered with `{ code, msg }`. */
export class KakaoApiError extends KakaoError {
  /** HTTP status. */
  readonly status: number;
  /** Kakao's negative error code, e.g. `-401`. */
  readonly apiCode: number;
  /** Kakao's `msg`, redacted. */
  readonly msg: string | undefined;
  /** For `-402`: the consent items the call needs. */
  readonly requiredScopes: readonly string[] | undefined;
  /** For `-402`: the consent items the user has agreed to. */
  readonly allowedScopes: readonly string[] | undefined;
  /**
   * Kakao's `reason` field, when the body carries one: a short machine-readable word (anything else is
   * dropped). Branch on `apiCode` first; `reason` only refines it.
   */
  readonly reason: string | undefined;

  constructor(init: {
    status: number;
    apiCode: number;
    msg?: string;
    requiredScopes?: readonly string[];
    allowedScopes?: readonly string[];
    reason?: string;
  }) {
    super('ERR_KAKAO_API', `Kakao API answered ${init.status} with code ${init.apiCode}`);
    this.status = init.status;
    this.apiCode = init.apiCode;
    this.msg = init.msg === undefined ? undefined : redact(init.msg);
    this.requiredScopes = init.requiredScopes;
    this.allowedScopes = init.allowedScopes;
    this.reason = init.reason;
  }
}

/** Why a response from Kakao could not be used. */
export type KakaoResponseFailure =
  'timeout' | 'network' | 'redirect' | 'http_status' | 'non_json' | 'too_large' | 'bad_shape';

/** Kakao was unreachable, too slow, or answered something that is not a usable response. */
export class KakaoResponseError extends KakaoError {
  readonly reason: KakaoResponseFailure;
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /** Which call failed, e.g. `token`, `user_me`. */
  readonly operation: string;

  constructor(init: { reason: KakaoResponseFailure; operation: string; status?: number; cause?: unknown }) {
    super(
      'ERR_KAKAO_RESPONSE',
      `Kakao ${init.operation} call failed: ${init.reason}${init.status ? ` (HTTP ${init.status})` : ''}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.reason = init.reason;
    this.status = init.status;
    this.operation = init.operation;
  }
}

/** An ID token was rejected. `reason` says which check failed; the token itself is never kept. */
export class IdTokenError extends KakaoError {
  readonly reason: string;
  constructor(reason: string) {
    super('ERR_KAKAO_ID_TOKEN', `ID token rejected: ${reason}`);
    this.reason = reason;
  }
}

/** A sealed token record could not be opened. One fixed message whatever the cause. */
export class TokenDecryptionError extends KakaoError {
  constructor() {
    super('ERR_KAKAO_TOKEN_DECRYPTION', 'Token record could not be decrypted');
  }
}

/**
 * A sealed value names a key id this process's key ring does not hold. During a key rotation another
 * process may hold that key, so the value is kept (never deleted) and this request goes without it.
 */
export class TokenKeyUnknownError extends KakaoError {
  /** The unknown key id (not secret: it is written in clear into every envelope). */
  readonly kid: string;
  constructor(kid: string) {
    super(
      'ERR_KAKAO_TOKEN_KEY_UNKNOWN',
      `Token record sealed under key id "${kid}", which this process's key ring does not hold (deploy the key to every process before sealing with it)`,
    );
    this.kid = kid;
  }
}

/** The token store (Redis) failed. `cause` is the client's error. */
export class TokenStoreError extends KakaoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_KAKAO_TOKEN_STORE', message, options);
  }
}

/** The session could not be read or saved (session store down, or no session middleware). */
export class KakaoSessionError extends KakaoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_KAKAO_SESSION', message, options);
  }
}

/** The user's Kakao tokens are gone, expired or revoked: the user has to log in again. */
export class ReauthRequiredError extends KakaoError {
  constructor(message = 'Re-authentication with Kakao is required') {
    super('ERR_KAKAO_REAUTH_REQUIRED', message);
  }
}

/**
 * Removes what might be a credential from provider-supplied text: Kakao puts the authorization code
 * into KOE320 descriptions (`authorization code not found for code=…`).
 */
export function redact(text: string): string {
  return text
    .slice(0, 200)
    .replace(/((?:code|token|secret|key|verifier)\s*[=:]\s*)\S+/gi, '$1[redacted]')
    .replace(/[A-Za-z0-9_\-.~+/]{20,}={0,2}/g, '[redacted]');
}
