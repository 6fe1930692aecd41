/**
 * Reading a request off the socket into an {@link Incoming}: a capped body and the parsed parts.
 */
import type { IncomingMessage } from 'node:http';
import { parseCookies, parseParams, type Incoming, type Reply } from './wire';

/** Largest request body accepted; bigger ones get 413. */
const MAX_BODY_BYTES = 64 * 1024;
/** Rejection value of {@link readBody} for a body over the cap. */
export const TOO_LARGE = Symbol('too large');

/** The body as UTF-8, at most 64 KiB (rejects with {@link TOO_LARGE} beyond). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
      reject(TOO_LARGE);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        reject(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** The request as handlers see it. */
export function toIncoming(req: IncomingMessage, bodyText: string): Incoming {
  const rawUrl = req.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart),
    query: parseParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1)),
    form: contentType === 'application/x-www-form-urlencoded' ? parseParams(bodyText) : parseParams(''),
    bodyText,
    contentType,
    headers: { ...req.headers },
    cookies: parseCookies(req.headers.cookie),
  };
}

/** A plain-text reply. */
export function plainReply(status: number, text: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body: text };
}
