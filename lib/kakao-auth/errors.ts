/**
 * From errors to answers: the HTTP status of every error the library raises, the default error page,
 * and `kakaoErrorHandler()`, the Express error middleware that answers them without stack traces.
 */
import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { isKakaoError, type KakaoErrorCode } from '../errors';
import { consoleLogger, type KakaoLogger } from '../logger';
import { describeRedisError } from '../stores/redis-client';
import { escapeHtml } from '../util';

/** An error answer of the routes, as handed to `renderError`. */
export interface KakaoRouteError {
  status: number;
  /** Short code, e.g. `kakao_unavailable`, `service_unavailable`, `forbidden_origin`. */
  code: string;
  /** Correlation id, also in the log line. */
  requestId: string;
}

const STATUS_BY_CODE: Partial<Record<KakaoErrorCode, number>> = {
  ERR_KAKAO_TOKEN: 502,
  ERR_KAKAO_API: 502,
  ERR_KAKAO_ID_TOKEN: 502,
  ERR_KAKAO_SESSION: 503,
  ERR_KAKAO_TOKEN_STORE: 503,
  ERR_KAKAO_TOKEN_KEY_UNKNOWN: 503,
  ERR_KAKAO_REAUTH_REQUIRED: 401,
};

// Errors of Redis clients that reach Express through a session store (connect-redis passes them on):
// unreachable, timed out, closed, failing over, or refusing the store's command (a connect-redis 9 store
// on an ioredis client answers "ERR syntax error": an outage of the session store all the same, whose
// cause is logged).
const REDIS_ERROR_NAMES = new Set([
  'MaxRetriesPerRequestError',
  'RedisUnavailableError',
  'ReplyError',
  'ErrorReply',
  'ClusterAllFailedError',
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'SocketClosedUnexpectedlyError',
  'SocketTimeoutError',
  'RootNodesUnavailableError',
  'ReconnectStrategyError',
  'TimeoutError',
  'CommandTimeoutError',
]);
const REDIS_MESSAGE =
  /Connection is closed|Command timed out|enableOfflineQueue|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready|CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN|All sentinels are unreachable|The client is (closed|offline)|Socket closed unexpectedly|All the root nodes are unavailable|Connection timeout|offline queue/;

/** Whether `err` is a session or token store failure, from the library or from a Redis client. */
export function isStoreFailure(err: unknown): boolean {
  if (isKakaoError(err)) return err.code === 'ERR_KAKAO_SESSION' || err.code === 'ERR_KAKAO_TOKEN_STORE';
  if (!(err instanceof Error)) return false;
  return (
    REDIS_ERROR_NAMES.has(err.constructor?.name ?? err.name) ||
    REDIS_ERROR_NAMES.has(err.name) ||
    REDIS_MESSAGE.test(err.message)
  );
}

/**
 * The HTTP status for an error: 401 when the user must log in again, 502/504 when Kakao failed or timed
 * out, 503 when a store is down, 500 for anything else. Works across two copies of the package (codes,
 * not `instanceof`).
 */
export function statusForError(err: unknown): number {
  if (isKakaoError(err)) {
    if (err.code === 'ERR_KAKAO_RESPONSE')
      return (err as { reason?: unknown }).reason === 'timeout' ? 504 : 502;
    return STATUS_BY_CODE[err.code] ?? 500;
  }
  return isStoreFailure(err) ? 503 : 500;
}

/** The short code shown for a status. */
export function codeForStatus(status: number): string {
  switch (status) {
    case 401:
      return 'reauth_required';
    case 502:
      return 'kakao_error';
    case 503:
      return 'service_unavailable';
    case 504:
      return 'kakao_timeout';
    default:
      return 'internal_error';
  }
}

/** Auth responses are never cached and never leak their URL (codes, states) through `Referer`. */
export function privateResponse(res: Response): void {
  res.set('Cache-Control', 'no-store');
  res.set('Referrer-Policy', 'no-referrer');
}

/** The default error page: status, a fixed sentence and the correlation id; nothing from the provider. */
export function defaultRenderError(_req: Request, res: Response, error: KakaoRouteError): void {
  res
    .status(error.status)
    .type('html')
    .send(
      `<!doctype html><meta charset="utf-8"><title>${error.status}</title>` +
        `<h1>Login problem (${error.status})</h1><p>Something went wrong (${escapeHtml(error.code)}). ` +
        `Please try again later.</p><p><small>Reference: ${escapeHtml(error.requestId)}</small></p>`,
    );
}

/** The log line for an error answer: codes and the store failure's class and message, nothing secret. */
export function logRouteError(
  logger: KakaoLogger,
  req: Request,
  status: number,
  code: string,
  err: unknown,
  requestId: string,
): void {
  const cause = isKakaoError(err) ? (err as { cause?: unknown }).cause : err;
  logger({
    level: status >= 500 ? 'error' : 'warn',
    event: 'request_failed',
    reason: isKakaoError(err) ? `${code}:${err.code}` : code,
    ...(status === 503 && cause !== undefined && { cause: describeRedisError(cause) }),
    ip: req.ip,
    requestId,
  });
}

/** Options of {@link kakaoErrorHandler}. */
export interface KakaoErrorHandlerOptions {
  /** Where answered errors are logged. Default: `consoleLogger`. */
  logger?: KakaoLogger;
  /** Renders HTML answers. Default: a minimal page with the status and a correlation id. */
  renderError?: (req: Request, res: Response, error: KakaoRouteError) => void;
}

/**
 * Express error middleware for the library's errors: `ReauthRequiredError` → 401, a store or session
 * outage (also raw Redis errors passed on by connect-redis) → 503 with `Retry-After`, Kakao failures →
 * 502, or 504 on a timeout. JSON (`{ error, requestId }`) when the request does not prefer HTML, a small
 * page otherwise; never a stack trace. Other errors are passed on to the next error handler.
 *
 * @example
 * ```ts
 * import express from 'express';
 * declare const clientID: string;
 * declare const callbackURL: string;
 * const app = express();
 * const auth = kakaoAuth({ clientID, callbackURL });
 * app.use(auth);
 * app.get('/me/kakao', async (req, res) => {
 *   // A ReauthRequiredError or a failed Kakao call rejects, and Express 5 passes it on.
 *   const me = await auth.withAccessToken(req, (accessToken) => auth.strategy.client.getUser(accessToken));
 *   res.json({ id: me.id });
 * });
 * app.use(kakaoErrorHandler());
 * ```
 */
export function kakaoErrorHandler(options: KakaoErrorHandlerOptions = {}): ErrorRequestHandler {
  const logger = options.logger ?? consoleLogger;
  const render = options.renderError ?? defaultRenderError;
  return function kakaoErrorHandler(err, req, res, next) {
    const status = statusForError(err);
    if (status === 500 || res.headersSent) {
      next(err);
      return;
    }
    const requestId = randomUUID();
    const code = codeForStatus(status);
    logRouteError(logger, req, status, code, err, requestId);
    res.set('Cache-Control', 'no-store');
    if (status === 503) res.set('Retry-After', '5');
    if (req.accepts(['json', 'html']) === 'html') render(req, res, { status, code, requestId });
    else res.status(status).json({ error: code, requestId });
  };
}
