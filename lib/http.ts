/**
 * The one HTTP transport for calls to Kakao: form bodies, JSON answers, a deadline over the whole
 * exchange, a cap on the body size and no redirects. It knows nothing about Kakao's endpoints; the
 * clients map statuses and bodies to errors.
 */

import { KakaoResponseError } from './errors';
import { parseJsonExactIntegers } from './json';

/** How {@link requestJson} talks to the network. */
export interface HttpOptions {
  /** The fetch implementation (the caller's, or `globalThis.fetch`). */
  fetch: typeof globalThis.fetch;
  /** Deadline in milliseconds for the whole exchange, from connecting to the last byte of the body. */
  timeoutMs: number;
  /** Largest body accepted, in bytes; a longer body fails with reason `too_large`. */
  maxResponseBytes: number;
}

/** A response whose status is not 3xx, with its body parsed when it was declared as JSON. */
export interface JsonResponse {
  status: number;
  headers: Headers;
  /**
   * The parsed body when `Content-Type` is `application/json` (any parameters), else `undefined`.
   * Integers beyond 2^53 arrive as exact decimal strings.
   */
  body: unknown;
}

/** What to send. */
export interface JsonRequestInit {
  method: 'GET' | 'POST';
  /** Extra request headers, e.g. `Authorization`. */
  headers?: Record<string, string>;
  /** Sent as `application/x-www-form-urlencoded;charset=utf-8`; `undefined` fields are left out. */
  form?: Record<string, string | undefined>;
}

/**
 * Sends one request and reads a JSON answer, never following redirects.
 *
 * The status is not judged here (apart from 3xx): a 400 with an OAuth error body is a normal
 * result for the caller to map.
 *
 * @param operation - Name of the call, carried by errors (e.g. `token`, `user_me`).
 * @param url - Absolute URL; it must not carry credentials (they go in headers or the form).
 * @throws {KakaoResponseError} `redirect` on any 3xx, `timeout` when `timeoutMs` passes, `network` when
 *   the connection fails (`cause` is a sanitized error holding only the system error code),
 *   `too_large` when the body exceeds `maxResponseBytes`, `non_json` when a JSON body does not parse.
 */
export async function requestJson(
  operation: string,
  url: string,
  init: JsonRequestInit,
  options: HttpOptions,
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...init.headers, accept: 'application/json' };
  let body: string | undefined;
  if (init.form) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(init.form)) {
      if (value !== undefined) params.append(name, value);
    }
    body = params.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=utf-8';
  }

  // One signal for the whole exchange: undici's own header and body timeouts are 300 s (R53).
  const signal = AbortSignal.timeout(options.timeoutMs);
  const fetchFn = options.fetch;
  let status: number | undefined;
  try {
    const response = await fetchFn(url, { method: init.method, headers, body, redirect: 'manual', signal });
    status = response.status;
    if (status >= 300 && status < 400) {
      // A token endpoint that redirects must not get the code or secret re-posted elsewhere (R29).
      await discard(response);
      throw new KakaoResponseError({ reason: 'redirect', operation, status });
    }
    if (!isJsonContentType(response.headers.get('content-type'))) {
      await discard(response);
      return { status, headers: response.headers, body: undefined };
    }
    const text = await readText(response, options.maxResponseBytes, operation);
    let parsed: unknown;
    try {
      parsed = parseJsonExactIntegers(text);
    } catch {
      // The parser's message quotes the body, which may hold tokens: no cause on purpose.
      throw new KakaoResponseError({ reason: 'non_json', operation, status });
    }
    return { status, headers: response.headers, body: parsed };
  } catch (error) {
    if (error instanceof KakaoResponseError) throw error;
    if (signal.aborted) throw new KakaoResponseError({ reason: 'timeout', operation, status });
    throw new KakaoResponseError({ reason: 'network', operation, status, cause: sanitizeCause(error) });
  }
}

/** `application/json`, with or without parameters such as `;charset=UTF-8`, in any case. */
export function isJsonContentType(value: string | null): boolean {
  if (value === null) return false;
  const mediaType = value.split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === 'application/json';
}

async function readText(response: Response, maxBytes: number, operation: string): Promise<string> {
  const status = response.status;
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await discard(response);
    throw new KakaoResponseError({ reason: 'too_large', operation, status });
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    // Counted as it streams: a chunked body has no Content-Length, and a declared one can lie.
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new KakaoResponseError({ reason: 'too_large', operation, status });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/**
 * A stand-in for a fetch failure that keeps only the system error code (`ECONNREFUSED`,
 * `UND_ERR_SOCKET` …). The original messages are dropped because some of them quote request
 * data: undici's header validation, for one, repeats the offending header value.
 */
function sanitizeCause(error: unknown): Error & { code?: string } {
  let code: string | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const candidate = (current as { code?: unknown }).code;
    if (typeof candidate === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(candidate)) {
      code = candidate;
      break;
    }
    current = (current as { cause?: unknown }).cause;
  }
  const sanitized: Error & { code?: string } = new Error(code ? `Network error: ${code}` : 'Network error');
  if (code) sanitized.code = code;
  return sanitized;
}
