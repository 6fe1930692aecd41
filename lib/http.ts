/**
 * The one HTTP transport for calls to Kakao: form bodies, JSON answers, a deadline over the whole
 * exchange, a cap on the body size and no redirects. It knows nothing about Kakao's endpoints; the
 * clients map statuses and bodies to errors.
 */

import http from 'node:http';
import https from 'node:https';
import { configError, requirePositiveInt } from './config';
import { KakaoResponseError } from './errors';
import { parseJsonExactIntegers } from './json';

/**
 * The default transport: node:http(s) over one keep-alive pool per protocol, shared by every
 * client in the process. It costs a fraction of the CPU of `fetch` per call (a login makes two).
 * Idle sockets are closed after 4 s, before common servers' 5 s keep-alive timeouts, so a pooled
 * socket is not reused just as the server closes it.
 */
const AGENTS = {
  'http:': new http.Agent({ keepAlive: true, timeout: 4_000, scheduling: 'lifo' }),
  'https:': new https.Agent({ keepAlive: true, timeout: 4_000, scheduling: 'lifo' }),
} as const;

/** How {@link requestJson} talks to the network. */
export interface HttpOptions {
  /** A fetch implementation to use instead of the built-in keep-alive node:http transport. Default: none. */
  fetch?: typeof globalThis.fetch | undefined;
  /** Deadline in milliseconds for the whole exchange, from connecting to the last byte of the body. */
  timeoutMs: number;
  /** Largest body accepted, in bytes; a longer body fails with reason `too_large`. */
  maxResponseBytes: number;
}

const DEFAULT_JSON_TYPES: readonly string[] = ['application/json'];

/** Largest `maxResponseBytes` a client accepts. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * Validates the transport options a client takes (`maxResponseBytes`, `fetch`) and returns them
 * with defaults applied. Shared by every client so the rules and messages are the same.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) with the fix in the message.
 */
export function resolveTransportOptions(
  what: string,
  options: { maxResponseBytes?: number | undefined; fetch?: typeof globalThis.fetch | undefined },
): { maxResponseBytes: number; fetch: typeof globalThis.fetch | undefined } {
  const maxResponseBytes = requirePositiveInt(what, 'maxResponseBytes', options.maxResponseBytes, 65_536);
  if (maxResponseBytes > MAX_RESPONSE_BYTES) {
    throw configError(
      `${what}: "maxResponseBytes" must be at most ${MAX_RESPONSE_BYTES} (Kakao's answers are a few KB; got ${maxResponseBytes}).`,
    );
  }
  const fetchFn = options.fetch;
  if (fetchFn !== undefined && typeof fetchFn !== 'function') {
    throw configError(
      `${what}: "fetch" must be a fetch function (default: the built-in keep-alive node:http transport; got ${typeof fetchFn}).`,
    );
  }
  return { maxResponseBytes, fetch: fetchFn };
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
  /**
   * Media types whose body is parsed as JSON (compared without parameters, in any case). Default:
   * `['application/json']`. A JWKS, for one, may come as `application/jwk-set+json`.
   */
  jsonMediaTypes?: readonly string[];
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
  const jsonTypes = init.jsonMediaTypes ?? DEFAULT_JSON_TYPES;
  const headers: Record<string, string> = { ...init.headers, accept: jsonTypes.join(', ') };
  let body: string | undefined;
  if (init.form) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(init.form)) {
      if (value !== undefined) params.append(name, value);
    }
    body = params.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=utf-8';
  }

  if (!options.fetch) return viaNodeHttp(operation, url, init.method, headers, body, jsonTypes, options);

  // One signal for the whole exchange: undici's own header and body timeouts are 300 s.
  const signal = AbortSignal.timeout(options.timeoutMs);
  const fetchFn = options.fetch;
  let status: number | undefined;
  try {
    const response = await fetchFn(url, { method: init.method, headers, body, redirect: 'manual', signal });
    status = response.status;
    if (status >= 300 && status < 400) {
      // A token endpoint that redirects must not get the code or secret re-posted elsewhere.
      await discard(response);
      throw new KakaoResponseError({ reason: 'redirect', operation, status });
    }
    if (!isJsonContentType(response.headers.get('content-type'), jsonTypes)) {
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

/** The same exchange as the fetch path, on node:http with the shared keep-alive agents. */
function viaNodeHttp(
  operation: string,
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body: string | undefined,
  jsonTypes: readonly string[],
  options: HttpOptions,
): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    let status: number | undefined;
    let settled = false;
    const settle = (error: KakaoResponseError | undefined, response?: JsonResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        request.destroy();
        reject(error);
      } else {
        resolve(response!);
      }
    };
    // One deadline for the whole exchange, from connecting to the last byte of the body.
    const timer = setTimeout(
      () => settle(new KakaoResponseError({ reason: 'timeout', operation, status })),
      options.timeoutMs,
    );
    let request: http.ClientRequest;
    try {
      request = createRequest();
    } catch (error) {
      // node:http refuses invalid header values synchronously; its message may quote them.
      clearTimeout(timer);
      settled = true;
      reject(new KakaoResponseError({ reason: 'network', operation, cause: sanitizeCause(error) }));
      return;
    }
    request.on('error', (error) =>
      settle(new KakaoResponseError({ reason: 'network', operation, status, cause: sanitizeCause(error) })),
    );
    request.end(body);

    function createRequest(): http.ClientRequest {
      return transport.request(
        target,
        {
          method,
          agent: AGENTS[target.protocol as keyof typeof AGENTS],
          headers:
            body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        },
        (response) => {
          status = response.statusCode ?? 0;
          const responseHeaders = toHeaders(response.headers);
          if (status >= 300 && status < 400) {
            // A token endpoint that redirects must not get the code or secret re-posted elsewhere.
            settle(new KakaoResponseError({ reason: 'redirect', operation, status }));
            return;
          }
          if (!isJsonContentType(response.headers['content-type'] ?? null, jsonTypes)) {
            // Not JSON: the caller only needs the status; the connection is not worth keeping.
            response.destroy();
            settle(undefined, { status, headers: responseHeaders, body: undefined });
            return;
          }
          const declared = Number(response.headers['content-length']);
          if (Number.isFinite(declared) && declared > options.maxResponseBytes) {
            settle(new KakaoResponseError({ reason: 'too_large', operation, status }));
            return;
          }
          const chunks: Buffer[] = [];
          let total = 0;
          response.on('data', (chunk: Buffer) => {
            total += chunk.length;
            // Counted as it streams: a chunked body has no Content-Length, and a declared one can lie.
            if (total > options.maxResponseBytes) {
              settle(new KakaoResponseError({ reason: 'too_large', operation, status }));
            } else {
              chunks.push(chunk);
            }
          });
          response.on('end', () => {
            if (settled) return;
            let parsed: unknown;
            try {
              parsed = parseJsonExactIntegers(Buffer.concat(chunks, total).toString('utf8'));
            } catch {
              // The parser's message quotes the body, which may hold tokens: no cause on purpose.
              settle(new KakaoResponseError({ reason: 'non_json', operation, status }));
              return;
            }
            settle(undefined, { status: status!, headers: responseHeaders, body: parsed });
          });
          response.on('error', (error) =>
            settle(
              new KakaoResponseError({ reason: 'network', operation, status, cause: sanitizeCause(error) }),
            ),
          );
        },
      );
    }
  });
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

/**
 * True when a `Content-Type` names one of `mediaTypes` (default `application/json`), with or without
 * parameters such as `;charset=UTF-8`, in any case.
 */
export function isJsonContentType(
  value: string | null,
  mediaTypes: readonly string[] = DEFAULT_JSON_TYPES,
): boolean {
  if (value === null) return false;
  const mediaType = value.split(';', 1)[0]!.trim().toLowerCase();
  return mediaTypes.includes(mediaType);
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
