/**
 * Kakao's unlink webhook: Kakao calls it when a user disconnects the app from Kakao's side (account
 * deleted, "Disconnect" in Connected services, customer service …). The handler authenticates the
 * call (`Authorization: KakaoAK <admin key>` and `app_id`, both compared in constant time), validates
 * the user id and hands the event to the caller, who deletes the user's tokens, sessions and data.
 *
 * Kakao counts anything but a 200 within 3 seconds as a failure and does not retry, so the handler
 * answers within `timeoutMs` whatever `onUnlink` does (see {@link UnlinkWebhookOptions.timeoutMs}).
 */

import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';

import { checkOptionNames, configError, requireString } from './config';
import { KakaoSessionError, TokenStoreError } from './errors';
import { isKakaoId } from './kakao-id';
import { consoleLogger, type KakaoLogEvent, type KakaoLogger } from './logger';
import { safeEqual } from './pkce';

/** One unlink notification from Kakao. */
export interface UnlinkEvent {
  /** The Kakao user id, exactly as Kakao sent it (a decimal string of 1 to 19 digits; see `isKakaoId`). */
  userId: string;
  /** The app id the call was for (the configured one, which it matched). */
  appId: string;
  /**
   * Why the user was unlinked: `UNLINK_FROM_APPS`, `ACCOUNT_DELETE`, `FORCED_ACCOUNT_DELETE`,
   * `UNLINK_FROM_ADMIN`, `INCOMPLETE_SIGN_UP` … `undefined` when absent or malformed.
   */
  referrerType: string | undefined;
}

/** Options of {@link createUnlinkWebhookHandler}. */
export interface UnlinkWebhookOptions {
  /** The app's admin key (Kakao console → App → App keys → Admin key); Kakao sends it as `KakaoAK`. */
  adminKey: string;
  /** The numeric app id (Kakao console → App → App ID), as a string or a number. */
  appId: string | number;
  /**
   * Deletes the user's stored tokens, ends their sessions and removes or anonymises their app data.
   * Must be idempotent: Kakao may notify twice, and the user may be unknown (answer as done). Calls
   * for a user whose previous call is still running share that call.
   */
  onUnlink: (event: UnlinkEvent) => Promise<void>;
  /**
   * Time budget in ms for the whole request (reading the body and waiting for `onUnlink`), 1 to 3000.
   * When it runs out while `onUnlink` is still working, the handler answers 200 and lets `onUnlink`
   * finish in the background, logging its outcome: Kakao treats anything but a timely 200 as a
   * failure and never retries, so answering late or with an error would only lose the notification
   * on Kakao's side while the deletion goes on anyway. An `onUnlink` that fails within the budget gets
   * a 500, which is the truth and shows up in Kakao's delivery records. Default: `2500`.
   */
  timeoutMs?: number;
  /** Receives an `unlink_webhook` event per call (never the key). Default: `consoleLogger`. */
  logger?: KakaoLogger;
}

const WHAT = 'createUnlinkWebhookHandler';
const OPTION_NAMES = ['adminKey', 'appId', 'onUnlink', 'timeoutMs', 'logger'] as const;
/** Kakao's limit is 3 s, network included. */
const KAKAO_WEBHOOK_DEADLINE_MS = 3000;
/** Three short fields: 4 KiB is generous. */
const MAX_BODY_BYTES = 4096;
const APP_ID_PATTERN = /^[1-9][0-9]{0,19}$/;
const REFERRER_TYPE_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
const AUTHORIZATION_PATTERN = /^KakaoAK[ \t]+(\S+)[ \t]*$/i;
const FORM_TYPE = 'application/x-www-form-urlencoded';

type BodyResult =
  { kind: 'ok'; text: string } | { kind: 'too_large' } | { kind: 'timeout' } | { kind: 'aborted' };

/**
 * Creates the Express handler for Kakao's unlink webhook. Mount it for both GET and POST (Kakao's
 * console chooses one), e.g. `app.all('/webhooks/kakao/unlink', handler)`, with no body parser in
 * front: it reads its own `application/x-www-form-urlencoded` body (at most 4 KiB).
 *
 * Answers: 200 when the user was handled (also for unknown users); 401 without detail when the
 * admin key or `app_id` is missing or wrong; 400 for a missing, malformed or repeated parameter;
 * 405 for other methods; 413 / 415 / 408 for an oversized, non-form or too slow body; 500 when
 * `onUnlink` fails within the time budget. Every answer carries `Cache-Control: no-store`.
 *
 * @throws {TypeError} with code `ERR_INVALID_ARG_VALUE` on a missing or malformed option (the key is never quoted).
 * @example
 * ```ts
 * import express from 'express';
 * declare const tokenStore: TokenStore; // the one kakaoAuth uses
 * declare const users: { remove(userId: string): Promise<void> }; // your own user records
 * const app = express();
 * app.all('/webhooks/kakao/unlink', createUnlinkWebhookHandler({
 *   adminKey: process.env.KAKAO_ADMIN_KEY!,
 *   appId: process.env.KAKAO_APP_ID!,
 *   onUnlink: async ({ userId }) => { await tokenStore.deleteUser(userId); await users.remove(userId); },
 * }));
 * ```
 */
export function createUnlinkWebhookHandler(options: UnlinkWebhookOptions): RequestHandler {
  if (typeof options !== 'object' || options === null) {
    throw configError(`${WHAT}: options must be an object such as { adminKey, appId, onUnlink }.`);
  }
  checkOptionNames(WHAT, options, OPTION_NAMES);
  const adminKey = requireString(
    WHAT,
    'adminKey',
    options.adminKey,
    'the admin key from the Kakao console, App → App keys → Admin key',
  );
  const appId = typeof options.appId === 'number' ? String(options.appId) : options.appId;
  if (typeof appId !== 'string' || !APP_ID_PATTERN.test(appId)) {
    throw configError(
      `${WHAT}: "appId" must be the numeric app id from the Kakao console (App → App ID), e.g. "1029384"; got ${
        appId === undefined
          ? 'nothing'
          : typeof appId === 'string'
            ? JSON.stringify(appId.slice(0, 40))
            : typeof appId
      }.`,
    );
  }
  const onUnlink = options.onUnlink;
  if (typeof onUnlink !== 'function') {
    throw configError(
      `${WHAT}: "onUnlink" must be an async function receiving { userId, appId, referrerType } that deletes the user's tokens, sessions and data.`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 2500;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > KAKAO_WEBHOOK_DEADLINE_MS) {
    throw configError(
      `${WHAT}: "timeoutMs" must be an integer from 1 to ${KAKAO_WEBHOOK_DEADLINE_MS} (Kakao gives up after 3 s, network included; got ${String(timeoutMs)}).`,
    );
  }
  const logger = options.logger ?? consoleLogger;
  if (typeof logger !== 'function') {
    throw configError(
      `${WHAT}: "logger" must be a function receiving one event object (got ${typeof logger}).`,
    );
  }

  const log = (req: Request, level: KakaoLogEvent['level'], reason: string, userId?: string): void => {
    const event: KakaoLogEvent = { level, event: 'unlink_webhook', reason, ip: req.ip };
    if (userId !== undefined) event.userId = userId;
    try {
      logger(event);
    } catch {
      // A logger must not throw; if it does, the answer to Kakao still goes out.
    }
  };

  // One run per user at a time: a repeated notification joins the running deletion.
  const running = new Map<string, Promise<void>>();
  const runOnce = (event: UnlinkEvent): Promise<void> => {
    const current = running.get(event.userId);
    if (current) return current;
    const run = (async () => onUnlink(event))().finally(() => running.delete(event.userId));
    running.set(event.userId, run);
    return run;
  };

  return async function kakaoUnlinkWebhook(req: Request, res: Response): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    res.set('Cache-Control', 'no-store');

    if (req.method !== 'GET' && req.method !== 'POST') {
      res.set('Allow', 'GET, POST');
      log(req, 'warn', 'method_not_allowed');
      answer(res, 405);
      return;
    }

    const match = AUTHORIZATION_PATTERN.exec(req.headers.authorization ?? '');
    if (!match || !safeEqual(match[1]!, adminKey)) {
      log(req, 'warn', match ? 'bad_admin_key' : 'missing_admin_key');
      unauthorized(res);
      return;
    }

    let params: URLSearchParams | { reason: string; status: number };
    if (req.method === 'GET') {
      const url = req.originalUrl || req.url || '';
      const query = url.indexOf('?');
      params = new URLSearchParams(query === -1 ? '' : url.slice(query + 1));
    } else {
      params = await readForm(req, deadline);
    }
    if (!(params instanceof URLSearchParams)) {
      if (params.status === 0) {
        log(req, 'warn', params.reason);
        return;
      }
      // Stop reading: the rest of the body is not wanted.
      if (params.status === 413 || params.status === 408) res.set('Connection', 'close');
      log(req, 'warn', params.reason);
      answer(res, params.status);
      return;
    }

    const fields = new Map<string, string>();
    for (const [name, value] of params) {
      if (fields.has(name)) {
        log(req, 'warn', 'repeated_parameter');
        answer(res, 400);
        return;
      }
      fields.set(name, value);
    }

    const givenAppId = fields.get('app_id');
    if (givenAppId === undefined || !safeEqual(givenAppId, appId)) {
      log(req, 'warn', givenAppId === undefined ? 'missing_app_id' : 'app_id_mismatch');
      unauthorized(res);
      return;
    }
    const userId = fields.get('user_id');
    if (userId === undefined || !isKakaoId(userId)) {
      log(req, 'warn', userId === undefined ? 'missing_user_id' : 'invalid_user_id');
      answer(res, 400);
      return;
    }
    // Informational only: a malformed value must not stop the deletion.
    const referrer = fields.get('referrer_type');
    const referrerType =
      referrer !== undefined && REFERRER_TYPE_PATTERN.test(referrer) ? referrer : undefined;

    const run = runOnce({ userId, appId, referrerType });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      run.then(
        () => ({ kind: 'done' as const }),
        (error: unknown) => ({ kind: 'failed' as const, error }),
      ),
      new Promise<{ kind: 'slow' }>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'slow' }), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);

    if (outcome.kind === 'done') {
      log(req, 'info', 'unlinked', userId);
      answer(res, 200);
    } else if (outcome.kind === 'failed') {
      log(req, 'error', failureReason('handler_failed', outcome.error), userId);
      // A store outage is a 503 (try again later); anything else is our failure.
      answer(
        res,
        outcome.error instanceof TokenStoreError || outcome.error instanceof KakaoSessionError ? 503 : 500,
      );
    } else {
      log(req, 'warn', 'handler_slow', userId);
      answer(res, 200);
      run.then(
        () => log(req, 'info', 'handler_finished_late', userId),
        (error: unknown) => log(req, 'error', failureReason('handler_failed_late', error), userId),
      );
    }
  };
}

function answer(res: Response, status: number): void {
  if (res.headersSent) return;
  res.sendStatus(status);
}

function unauthorized(res: Response): void {
  res.set('WWW-Authenticate', 'KakaoAK');
  answer(res, 401);
}

/** `reason` plus the error's code when it has a well-formed one (`ERR_KAKAO_TOKEN_STORE`); never a message. */
function failureReason(reason: string, error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? `${reason}:${code}` : reason;
}

/**
 * Reads a form body, or reports why not: status 0 means the client went away (nothing to answer).
 * When a body parser already consumed the stream, its result is used if it is a flat form.
 */
async function readForm(
  req: Request,
  deadline: number,
): Promise<URLSearchParams | { reason: string; status: number }> {
  const contentType = req.headers['content-type'];
  const mediaType = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (mediaType !== FORM_TYPE || encoding !== 'identity') {
    return { reason: 'unsupported_media_type', status: 415 };
  }
  if (req.readableEnded) return parsedBody(req.body as unknown);
  const result = await readBody(req, MAX_BODY_BYTES, deadline);
  switch (result.kind) {
    case 'ok':
      return new URLSearchParams(result.text);
    case 'too_large':
      return { reason: 'body_too_large', status: 413 };
    case 'timeout':
      return { reason: 'body_timeout', status: 408 };
    default:
      return { reason: 'request_aborted', status: 0 };
  }
}

/** A body parsed by middleware in front (`express.urlencoded`): only flat string fields pass. */
function parsedBody(body: unknown): URLSearchParams | { reason: string; status: number } {
  const params = new URLSearchParams();
  if (body === undefined) return params;
  if (typeof body !== 'object' || body === null) return { reason: 'malformed_body', status: 400 };
  for (const [name, value] of Object.entries(body)) {
    // Arrays are repeated parameters; objects are `a[b]=` syntax: neither is a valid webhook call.
    if (typeof value !== 'string') return { reason: 'repeated_parameter', status: 400 };
    params.append(name, value);
  }
  return params;
}

function readBody(req: IncomingMessage, maxBytes: number, deadline: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.resolve({ kind: 'too_large' });
  }
  return new Promise<BodyResult>((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const finish = (result: BodyResult): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onClose);
      req.off('close', onClose);
      // Whatever is left is drained and dropped, so the connection can answer.
      if (result.kind !== 'ok') req.resume();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.byteLength;
      // Counted as it streams: a chunked body has no Content-Length.
      if (total > maxBytes) finish({ kind: 'too_large' });
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish({ kind: 'ok', text: Buffer.concat(chunks, total).toString('utf8') });
    const onClose = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), Math.max(0, deadline - Date.now()));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onClose);
    req.on('close', onClose);
  });
}
