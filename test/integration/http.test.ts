import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';

import { KakaoResponseError } from '../../lib/errors';
import { isJsonContentType, requestJson, type HttpOptions } from '../../lib/http';

async function withServer<T>(
  handle: (req: IncomingMessage, body: string) => { status: number; type?: string; body: string },
  run: (origin: string) => Promise<T>,
): Promise<T> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = handle(req, Buffer.concat(chunks).toString('utf8'));
      res.writeHead(answer.status, answer.type ? { 'content-type': answer.type } : {});
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('isJsonContentType', () => {
  test.each([
    ['application/json', true],
    ['application/json;charset=UTF-8', true],
    ['Application/JSON ; charset=utf-8', true],
    ['text/plain', false],
    ['application/jsonp', false],
    ['application/json-seq', false],
    ['text/html; application/json', false],
    [null, false],
  ])('%j is JSON: %s', (value, expected) => {
    expect(isJsonContentType(value)).toBe(expected);
  });
});

describe.each([
  ['the built-in node:http transport', { timeoutMs: 2_000, maxResponseBytes: 65_536 }],
  ['an injected fetch', { fetch: globalThis.fetch, timeoutMs: 2_000, maxResponseBytes: 65_536 }],
] as [string, HttpOptions][])('requestJson over %s', (_transport, options) => {
  test('sends a form without its undefined fields and returns status, headers and parsed body', async () => {
    let seen: { method?: string; type?: string; accept?: string; body?: string } = {};
    const response = await withServer(
      (req, body) => {
        seen = { method: req.method, type: req.headers['content-type'], accept: req.headers.accept, body };
        return { status: 201, type: 'application/json', body: '{"big":12345678901234567890,"n":1}' };
      },
      (origin) =>
        requestJson(
          'test',
          `${origin}/x`,
          { method: 'POST', form: { a: '1 2', b: undefined, c: 'é&=' } },
          options,
        ),
    );

    expect(seen).toEqual({
      method: 'POST',
      type: 'application/x-www-form-urlencoded;charset=utf-8',
      accept: 'application/json',
      body: 'a=1+2&c=%C3%A9%26%3D',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.body).toEqual({ big: '12345678901234567890', n: 1 });
  });

  test('leaves the body undefined when the answer is not labelled JSON', async () => {
    const response = await withServer(
      () => ({ status: 400, type: 'text/plain', body: '{"error":"x"}' }),
      (origin) => requestJson('test', `${origin}/x`, { method: 'GET' }, options),
    );
    expect(response).toMatchObject({ status: 400, body: undefined });
  });

  test('reads other JSON media types only when asked to, and says so in Accept', async () => {
    let accept: string | undefined;
    const answer = (req: IncomingMessage) => {
      accept = req.headers.accept;
      return { status: 200, type: 'application/jwk-set+json; charset=utf-8', body: '{"keys":[]}' };
    };
    const plain = await withServer(answer, (origin) =>
      requestJson('jwks', `${origin}/jwks`, { method: 'GET' }, options),
    );
    expect(plain.body).toBeUndefined();
    const jwks = await withServer(answer, (origin) =>
      requestJson(
        'jwks',
        `${origin}/jwks`,
        { method: 'GET', jsonMediaTypes: ['application/json', 'application/jwk-set+json'] },
        options,
      ),
    );
    expect(jwks.body).toEqual({ keys: [] });
    expect(accept).toBe('application/json, application/jwk-set+json');
  });

  test('keeps request data out of a failure raised before anything is sent', async () => {
    const error = await requestJson(
      'test',
      'http://127.0.0.1:9/x',
      { method: 'GET', headers: { authorization: 'Bearer s3cr3t-t0ken\nInjected: yes' } },
      options,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(KakaoResponseError);
    expect(error).toMatchObject({ reason: 'network', operation: 'test' });
    const text = inspect(error, { depth: 10, showHidden: true });
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('Injected');
  });
});
