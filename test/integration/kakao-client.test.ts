import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';

import { KakaoApiError, KakaoResponseError, KakaoTokenError } from '../../lib/errors';
import {
  apiErrorConfigurationHint,
  isInvalidGrant,
  isTimeout,
  KakaoClient,
  tokenErrorConfigurationHint,
  type KakaoClientOptions,
} from '../../lib/kakao-client';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface FakeKakao {
  origin: string;
  requests: Recorded[];
  connections: () => number;
  close: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, recorded: Recorded) => void;

const servers: Server[] = [];

/** A local server playing Kakao: records every request (after reading its body), then calls `handler`. */
async function fakeKakao(handler: Handler): Promise<FakeKakao> {
  const requests: Recorded[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      handler(req, res, recorded);
    });
  });
  server.on('connection', (socket) => {
    connections++;
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
  res.end(text);
}

function client(origin: string, extra: Partial<KakaoClientOptions> = {}): KakaoClient {
  return new KakaoClient({ clientID: 'rest-api-key', authOrigin: origin, apiOrigin: origin, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function form(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

// Shaped like Kakao's: ~86 URL-safe characters.
const CODE = 'Yq3xK9aPzR0v_L2mWnB7cD4eF6gH8iJ1kM5oQ3sT9uV0wX2yZ4aB6cD8eF0gH2iJ4kL6mN8oP0qR2sT4uV6wXz';
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const REDIRECT_URI = 'https://app.example/auth/kakao/callback';
const ACCESS_TOKEN = 'QmFzZTY0LWxpa2UtYWNjZXNzLXRva2VuLWZvci10ZXN0cw';
const REFRESH_TOKEN = 'QmFzZTY0LWxpa2UtcmVmcmVzaC10b2tlbi1mb3ItdGVzdHM';
const SECRET = 'client-secret-0123456789abcdef';

const TOKEN_BODY = {
  token_type: 'bearer',
  access_token: ACCESS_TOKEN,
  id_token: 'eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.e30.c2ln',
  expires_in: 21599,
  refresh_token: REFRESH_TOKEN,
  refresh_token_expires_in: 5183999,
  scope: 'openid profile_nickname',
};

const exchange = (kakao: KakaoClient, code = CODE) =>
  kakao.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: VERIFIER });

function expectNoCredentialsInUrls(server: FakeKakao): void {
  for (const request of server.requests) {
    for (const secret of [CODE, ACCESS_TOKEN, REFRESH_TOKEN, SECRET, VERIFIER]) {
      expect(request.url).not.toContain(secret);
    }
  }
}

describe('KakaoClient token endpoint', () => {
  test('exchanges a code with a form POST to /oauth/token carrying the PKCE verifier', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, TOKEN_BODY));
    const tokens = await exchange(client(server.origin));

    expect(tokens).toEqual(TOKEN_BODY);
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/oauth/token');
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=utf-8');
    expect(request!.headers.accept).toBe('application/json');
    expect(request!.headers.authorization).toBeUndefined();
    expect(form(request!.body)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'rest-api-key',
      redirect_uri: REDIRECT_URI,
      code: CODE,
      code_verifier: VERIFIER,
    });
    expectNoCredentialsInUrls(server);
  });

  test('sends no client_secret field at all when no secret is configured', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, TOKEN_BODY));
    await exchange(client(server.origin));
    await client(server.origin).refreshToken(REFRESH_TOKEN);

    for (const request of server.requests) {
      expect(new URLSearchParams(request.body).has('client_secret')).toBe(false);
      expect(request.body).not.toContain('client_secret');
    }
  });

  test('sends client_secret in the form (client_secret_post) when configured', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, TOKEN_BODY));
    const kakao = client(server.origin, { clientSecret: SECRET });
    await exchange(kakao);
    await kakao.refreshToken(REFRESH_TOKEN);

    expect(server.requests.map((r) => form(r.body).client_secret)).toEqual([SECRET, SECRET]);
    expect(server.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  test('refreshes with grant_type=refresh_token and accepts an answer without a rotated refresh token', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 200, { token_type: 'bearer', access_token: 'TmV3QWNjZXNz', expires_in: 21599 }),
    );
    const tokens = await client(server.origin).refreshToken(REFRESH_TOKEN);

    expect(tokens).toEqual({ token_type: 'bearer', access_token: 'TmV3QWNjZXNz', expires_in: 21599 });
    expect(Object.keys(tokens)).not.toContain('refresh_token');
    expect(server.requests[0]!.url).toBe('/oauth/token');
    expect(form(server.requests[0]!.body)).toEqual({
      grant_type: 'refresh_token',
      client_id: 'rest-api-key',
      refresh_token: REFRESH_TOKEN,
    });
    expectNoCredentialsInUrls(server);
  });

  test('ignores a stray WWW-Authenticate header and a ;charset=UTF-8 suffix on a token response', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 200, TOKEN_BODY, {
        'content-type': 'Application/JSON; charset=UTF-8',
        'www-authenticate': 'Bearer realm="oauth"',
      }),
    );
    await expect(exchange(client(server.origin))).resolves.toEqual(TOKEN_BODY);
  });

  test('returns only the known token fields and normalises token_type to lower case', async () => {
    const wire = JSON.stringify({ ...TOKEN_BODY, token_type: 'Bearer', extra: 'x' }).replace(
      '{',
      '{"__proto__":{"polluted":true},',
    );
    const server = await fakeKakao((_req, res) => json(res, 200, wire));
    const tokens = await exchange(client(server.origin));

    expect(Object.keys(tokens).sort()).toEqual(Object.keys(TOKEN_BODY).sort());
    expect(Object.getPrototypeOf(tokens)).toBe(Object.prototype);
    expect((tokens as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(tokens.token_type).toBe('bearer');
  });

  test('maps KOE320 to an invalid_grant KakaoTokenError without the echoed code anywhere', async () => {
    const server = await fakeKakao((_req, res, recorded) =>
      json(res, 400, {
        error: 'invalid_grant',
        error_description: `authorization code not found for code=${form(recorded.body).code}`,
        error_code: 'KOE320',
      }),
    );
    const error = await failure(exchange(client(server.origin, { clientSecret: SECRET })));

    expect(error).toBeInstanceOf(KakaoTokenError);
    expect(isInvalidGrant(error)).toBe(true);
    const tokenError = error as KakaoTokenError;
    expect(tokenError).toMatchObject({
      code: 'ERR_KAKAO_TOKEN',
      status: 400,
      error: 'invalid_grant',
      errorCode: 'KOE320',
    });
    expect(tokenError.errorDescription).toContain('authorization code not found');
    for (const text of [
      tokenError.message,
      tokenError.errorDescription,
      JSON.stringify(tokenError),
      inspect(tokenError),
    ]) {
      expect(text).not.toContain(CODE);
      expect(text).not.toContain(CODE.slice(0, 20));
      expect(text).not.toContain(VERIFIER);
      expect(text).not.toContain(SECRET);
    }
  });

  test('maps KOE322 on refresh to an invalid_grant KakaoTokenError and does not retry it', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 400, {
        error: 'invalid_grant',
        error_description: 'expired_or_invalid_refresh_token',
        error_code: 'KOE322',
      }),
    );
    const error = await failure(client(server.origin).refreshToken(REFRESH_TOKEN));

    expect(isInvalidGrant(error)).toBe(true);
    expect(error).toMatchObject({ status: 400, errorCode: 'KOE322' });
    expect(server.requests).toHaveLength(1);
  });

  test('maps KOE010 (401 with WWW-Authenticate) to an invalid_client KakaoTokenError', async () => {
    const server = await fakeKakao((_req, res) =>
      json(
        res,
        401,
        { error: 'invalid_client', error_description: 'Bad client credentials', error_code: 'KOE010' },
        { 'www-authenticate': 'Bearer realm="oauth", error="invalid_client"' },
      ),
    );
    const error = await failure(exchange(client(server.origin, { clientSecret: SECRET })));

    expect(error).toBeInstanceOf(KakaoTokenError);
    expect(isInvalidGrant(error)).toBe(false);
    expect(error).toMatchObject({
      status: 401,
      error: 'invalid_client',
      errorCode: 'KOE010',
      errorDescription: 'Bad client credentials',
    });
    expect(inspect(error)).not.toContain(SECRET);
  });

  test('maps a 500 HTML page from the token endpoint to http_status and makes exactly one call', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html><body>Internal error</body></html>');
    });
    const error = await failure(exchange(client(server.origin)));

    expect(error).toBeInstanceOf(KakaoResponseError);
    expect(error).toMatchObject({ reason: 'http_status', status: 500, operation: 'token' });
    expect(server.requests).toHaveLength(1);
  });

  test('maps a 200 HTML page to non_json', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' });
      res.end('<html>hello</html>');
    });
    await expect(exchange(client(server.origin))).rejects.toMatchObject({ reason: 'non_json', status: 200 });
  });

  test('maps valid JSON sent as text/plain to non_json', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(JSON.stringify(TOKEN_BODY));
    });
    await expect(exchange(client(server.origin))).rejects.toMatchObject({ reason: 'non_json' });
  });

  test('maps a body labelled JSON that does not parse to non_json without quoting the body', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, `{"access_token":"${ACCESS_TOKEN}",`));
    const error = await failure(exchange(client(server.origin)));

    expect(error).toMatchObject({ reason: 'non_json' });
    expect(inspect(error)).not.toContain(ACCESS_TOKEN);
    expect((error as Error).cause).toBeUndefined();
  });

  test.each([
    ['token_type "mac"', { ...TOKEN_BODY, token_type: 'mac' }],
    ['expires_in as a string', { ...TOKEN_BODY, expires_in: '3600' }],
    ['expires_in zero', { ...TOKEN_BODY, expires_in: 0 }],
    ['an empty access_token', { ...TOKEN_BODY, access_token: '' }],
    ['a missing access_token', { token_type: 'bearer', expires_in: 21599 }],
    ['an empty refresh_token', { ...TOKEN_BODY, refresh_token: '' }],
    ['a negative refresh_token_expires_in', { ...TOKEN_BODY, refresh_token_expires_in: -1 }],
    ['a numeric scope', { ...TOKEN_BODY, scope: 1 }],
    ['an array body', [TOKEN_BODY]],
    ['a null body', null],
  ])('rejects a token response with %s as bad_shape without carrying the body', async (_name, body) => {
    const server = await fakeKakao((_req, res) => json(res, 200, body));
    const error = await failure(exchange(client(server.origin)));

    expect(error).toBeInstanceOf(KakaoResponseError);
    expect(error).toMatchObject({ reason: 'bad_shape', status: 200, operation: 'token' });
    expect(inspect(error)).not.toContain(ACCESS_TOKEN);
    expect(JSON.stringify(error)).not.toContain(ACCESS_TOKEN);
  });

  test('accepts a code-grant answer without refresh_token_expires_in, leaving it undefined', async () => {
    const { refresh_token_expires_in: _dropped, ...body } = TOKEN_BODY;
    const server = await fakeKakao((_req, res) => json(res, 200, body));
    const tokens = await exchange(client(server.origin));

    expect(tokens.refresh_token).toBe(REFRESH_TOKEN);
    expect(tokens.refresh_token_expires_in).toBeUndefined();
  });

  test('accepts a token response without expires_in: the lifetime is unknown (undefined), not invented', async () => {
    const { expires_in: _dropped, ...body } = TOKEN_BODY;
    const server = await fakeKakao((_req, res) => json(res, 200, body));
    const tokens = await exchange(client(server.origin));

    expect(tokens.access_token).toBe(ACCESS_TOKEN);
    expect('expires_in' in tokens).toBe(false);
    expect(tokens.expires_in).toBeUndefined();
  });

  test.each([[0], [-1], ['21599'], [null]])(
    'still rejects an expires_in of %j as bad_shape',
    async (value) => {
      const server = await fakeKakao((_req, res) => json(res, 200, { ...TOKEN_BODY, expires_in: value }));
      await expect(exchange(client(server.origin))).rejects.toMatchObject({ reason: 'bad_shape' });
    },
  );

  test('does not follow a 307 from the token endpoint, and the redirect target receives nothing', async () => {
    const elsewhere = await fakeKakao((_req, res) => json(res, 200, TOKEN_BODY));
    const server = await fakeKakao((_req, res) => {
      res.writeHead(307, { location: `${elsewhere.origin}/oauth/token` });
      res.end();
    });
    const error = await failure(exchange(client(server.origin, { clientSecret: SECRET })));

    expect(error).toMatchObject({ reason: 'redirect', status: 307, operation: 'token' });
    expect(server.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
    expect(elsewhere.connections()).toBe(0);
  });

  test('reports a refused connection as network, with a cause holding only the error code', async () => {
    const server = await fakeKakao(() => undefined);
    const origin = server.origin;
    await server.close();
    const error = await failure(exchange(client(origin, { clientSecret: SECRET })));

    expect(error).toMatchObject({ reason: 'network', status: undefined });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    const text = inspect(error, { depth: 10 });
    for (const secret of [CODE, VERIFIER, SECRET]) expect(text).not.toContain(secret);
  });

  test('never retries a code exchange whose connection broke before an answer', async () => {
    const server = await fakeKakao((req) => req.socket.destroy());
    const error = await failure(exchange(client(server.origin)));

    expect(error).toMatchObject({ reason: 'network' });
    expect(server.requests).toHaveLength(1);
  });

  test('does not retry a refresh whose connection broke after Kakao received it (Kakao may have rotated the token)', async () => {
    const server = await fakeKakao((req) => req.socket.destroy());
    await expect(client(server.origin).refreshToken(REFRESH_TOKEN)).rejects.toMatchObject({
      reason: 'network',
    });
    expect(server.requests).toHaveLength(1);
  });

  test('does not retry a refresh whose answer broke off after the headers', async () => {
    const server = await fakeKakao((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"token_type":"bearer",', () => req.socket.destroy());
    });
    await expect(client(server.origin).refreshToken(REFRESH_TOKEN)).rejects.toMatchObject({
      reason: 'network',
      status: 200,
    });
    expect(server.requests).toHaveLength(1);
  });

  test('retries a refresh once when the connection was refused (the request never left)', async () => {
    // A port nobody listens on yet: the first attempt is refused, the retry (after 50–200 ms) is served.
    const probe = await fakeKakao(() => undefined);
    const origin = probe.origin;
    await probe.close();
    const later = new Promise<FakeKakao>((resolve) =>
      setTimeout(() => {
        const requests: unknown[] = [];
        const server = createServer((req, res) => {
          requests.push(req.url);
          req.resume();
          req.on('end', () =>
            json(res, 200, { token_type: 'bearer', access_token: 'TmV3QWNjZXNz', expires_in: 21599 }),
          );
        });
        servers.push(server);
        server.listen(Number(new URL(origin).port), '127.0.0.1', () =>
          resolve({
            origin,
            requests: requests as never,
            connections: () => 0,
            close: () => closeServer(server),
          }),
        );
      }, 20),
    );
    const tokens = await client(origin).refreshToken(REFRESH_TOKEN);
    expect(tokens.access_token).toBe('TmV3QWNjZXNz');
    expect((await later).requests).toHaveLength(1);
  });
});

describe('KakaoClient transport limits', () => {
  test('aborts a chunked body without Content-Length once it exceeds maxResponseBytes', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const filler = 'x'.repeat(1024);
      res.write(`{"token_type":"bearer","access_token":"${ACCESS_TOKEN}","expires_in":1,"pad":"`);
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent++ > 200) {
          clearInterval(timer);
          res.end('"}');
          return;
        }
        res.write(filler);
      }, 1);
    });
    const error = await failure(exchange(client(server.origin, { maxResponseBytes: 4096 })));

    expect(error).toMatchObject({ reason: 'too_large', status: 200 });
  });

  test('rejects a declared Content-Length above maxResponseBytes', async () => {
    const server = await fakeKakao((_req, res) => {
      const body = JSON.stringify({ ...TOKEN_BODY, pad: 'x'.repeat(5000) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    await expect(exchange(client(server.origin, { maxResponseBytes: 4096 }))).rejects.toMatchObject({
      reason: 'too_large',
    });
  });

  test('accepts a body of exactly maxResponseBytes', async () => {
    const body = JSON.stringify(TOKEN_BODY);
    const server = await fakeKakao((_req, res) => json(res, 200, body));
    await expect(
      exchange(client(server.origin, { maxResponseBytes: Buffer.byteLength(body) })),
    ).resolves.toEqual(TOKEN_BODY);
  });

  test('times out when the headers never come, within timeoutMs plus a small margin', async () => {
    const server = await fakeKakao(() => undefined);
    const started = Date.now();
    const error = await failure(exchange(client(server.origin, { timeoutMs: 200 })));
    const elapsed = Date.now() - started;

    expect(isTimeout(error)).toBe(true);
    expect(error).toMatchObject({ reason: 'timeout', operation: 'token' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(700);
  });

  test('times out when the body stalls after the headers, within timeoutMs plus a small margin', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"token_type":"bearer",');
    });
    const started = Date.now();
    const error = await failure(client(server.origin, { timeoutMs: 200 }).getUser(ACCESS_TOKEN));
    const elapsed = Date.now() - started;

    expect(error).toMatchObject({ reason: 'timeout', status: 200, operation: 'user_me' });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(700);
  });

  test('uses logoutTimeoutMs for logout', async () => {
    const server = await fakeKakao(() => undefined);
    const started = Date.now();
    const error = await failure(
      client(server.origin, { timeoutMs: 5_000, logoutTimeoutMs: 150 }).logout(ACCESS_TOKEN),
    );

    expect(error).toMatchObject({ reason: 'timeout', operation: 'logout' });
    expect(Date.now() - started).toBeLessThan(650);
  });

  test('reuses one TCP connection for sequential calls', async () => {
    const server = await fakeKakao((req, res) => {
      if (req.url === '/oauth/token') json(res, 200, TOKEN_BODY);
      else json(res, 200, { id: 4120937465 });
    });
    const kakao = client(server.origin);
    // undici hands a socket back to its pool a tick after the body ends; a call started in the same
    // tick opens a second pooled connection, so let that tick pass as any real caller would.
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    await exchange(kakao);
    await tick();
    await kakao.getUser(ACCESS_TOKEN);
    await tick();
    await kakao.refreshToken(REFRESH_TOKEN);
    await tick();
    await kakao.getUser(ACCESS_TOKEN);

    expect(server.requests).toHaveLength(4);
    expect(server.connections()).toBe(1);
  });
});

describe('KakaoClient user API', () => {
  test('reads /v2/user/me with a Bearer header and never puts the token in the URL', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 200, { id: 4120937465, kakao_account: { email: 'a@b.test' } }),
    );
    const user = await client(server.origin).getUser(ACCESS_TOKEN, {
      propertyKeys: ['kakao_account.email', 'kakao_account.profile'],
      secureResource: true,
    });

    expect(user).toEqual({ id: '4120937465', kakao_account: { email: 'a@b.test' } });
    const [request] = server.requests;
    expect(request!.method).toBe('GET');
    expect(request!.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    const url = new URL(request!.url, server.origin);
    expect(url.pathname).toBe('/v2/user/me');
    expect(JSON.parse(url.searchParams.get('property_keys')!)).toEqual([
      'kakao_account.email',
      'kakao_account.profile',
    ]);
    expect(url.searchParams.get('secure_resource')).toBe('true');
    expect([...url.searchParams.keys()].sort()).toEqual(['property_keys', 'secure_resource']);
    expectNoCredentialsInUrls(server);
  });

  test("asks for https image URLs (secure_resource=true) by default, as Kakao's SDKs do", async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, { id: 1 }));
    await client(server.origin).getUser(ACCESS_TOKEN);
    expect(server.requests[0]!.url).toBe('/v2/user/me?secure_resource=true');
  });

  test('sends no query at all when secureResource is turned off, and false only when a call asks', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, { id: 1 }));
    const insecure = client(server.origin, { secureResource: false });
    await insecure.getUser(ACCESS_TOKEN);
    await insecure.getUser(ACCESS_TOKEN, { secureResource: true });
    await client(server.origin).getUser(ACCESS_TOKEN, { secureResource: false });
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v2/user/me',
      '/v2/user/me?secure_resource=true',
      '/v2/user/me?secure_resource=false',
    ]);
  });

  test('keeps a 19-digit user id exact, as a string', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 200, '{"id":1376016924429759228,"connected_at":"2024-05-02T03:11:09Z"}'),
    );
    const user = await client(server.origin).getUser(ACCESS_TOKEN);

    expect(user.id).toBe('1376016924429759228');
    expect(user.connected_at).toBe('2024-05-02T03:11:09Z');
  });

  test.each([
    ['a missing id', { kakao_account: {} }],
    ['a fractional id', { id: 1.5 }],
    ['a float beyond 2^53', '{"id":1.376016924429759e18}'],
    ['a negative id', { id: -5 }],
    ['a non-digit string id', { id: '12ab' }],
    ['an id beyond a signed 64-bit long', '{"id":99999999999999999999}'],
    ['an array body', [{ id: 1 }]],
  ])('rejects a user/me answer with %s as bad_shape', async (_name, body) => {
    const server = await fakeKakao((_req, res) => json(res, 200, body));
    await expect(client(server.origin).getUser(ACCESS_TOKEN)).rejects.toMatchObject({
      reason: 'bad_shape',
      operation: 'user_me',
    });
  });

  test('maps kapi -401 to a KakaoApiError', async () => {
    const server = await fakeKakao((_req, res) =>
      json(
        res,
        401,
        { msg: 'this access token does not exist', code: -401 },
        {
          'www-authenticate': 'Bearer error=invalid_token',
        },
      ),
    );
    const error = await failure(client(server.origin).getUser(ACCESS_TOKEN));

    expect(error).toBeInstanceOf(KakaoApiError);
    expect(error).toMatchObject({
      code: 'ERR_KAKAO_API',
      status: 401,
      apiCode: -401,
      msg: 'this access token does not exist',
      requiredScopes: undefined,
    });
    expect(inspect(error)).not.toContain(ACCESS_TOKEN);
  });

  test('maps kapi -402 to a KakaoApiError listing the required scopes', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 403, {
        msg: 'insufficient scopes.',
        code: -402,
        api_type: 'USER_ME',
        required_scopes: ['account_email'],
        allowed_scopes: ['profile_nickname', 'openid'],
      }),
    );
    const error = await failure(client(server.origin).getUser(ACCESS_TOKEN));

    expect(error).toBeInstanceOf(KakaoApiError);
    expect(error).toMatchObject({ status: 403, apiCode: -402, requiredScopes: ['account_email'] });
  });

  test('maps a kapi 500 HTML page to http_status', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html>oops</html>');
    });
    await expect(client(server.origin).getUser(ACCESS_TOKEN)).rejects.toMatchObject({
      reason: 'http_status',
      status: 500,
      operation: 'user_me',
    });
  });

  test('maps a kapi 200 non-JSON answer to non_json', async () => {
    const server = await fakeKakao((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    await expect(client(server.origin).getUser(ACCESS_TOKEN)).rejects.toMatchObject({ reason: 'non_json' });
  });

  test('logs out with a Bearer POST to /v1/user/logout', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, { id: 4120937465 }));
    await expect(client(server.origin).logout(ACCESS_TOKEN)).resolves.toBeUndefined();

    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/user/logout', body: '' });
    expect(request!.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
  });

  test('maps a logout of a dead token to a KakaoApiError', async () => {
    const server = await fakeKakao((_req, res) => json(res, 401, { msg: 'expired', code: -401 }));
    await expect(client(server.origin).logout(ACCESS_TOKEN)).rejects.toMatchObject({ apiCode: -401 });
  });

  test('unlinks with a Bearer POST to /v1/user/unlink and returns the exact id', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, '{"id":1376016924429759228}'));
    await expect(client(server.origin).unlink(ACCESS_TOKEN)).resolves.toEqual({ id: '1376016924429759228' });

    expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/v1/user/unlink' });
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
  });

  test('reads access_token_info with a Bearer GET and renames its fields', async () => {
    const server = await fakeKakao((_req, res) =>
      json(res, 200, { id: 4120937465, expires_in: 7199, app_id: 123456 }),
    );
    await expect(client(server.origin).accessTokenInfo(ACCESS_TOKEN)).resolves.toEqual({
      id: '4120937465',
      expiresIn: 7199,
      appId: 123456,
    });

    expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/v1/user/access_token_info' });
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
  });

  test('rejects access_token_info without app_id as bad_shape', async () => {
    const server = await fakeKakao((_req, res) => json(res, 200, { id: 4120937465, expires_in: 7199 }));
    await expect(client(server.origin).accessTokenInfo(ACCESS_TOKEN)).rejects.toMatchObject({
      reason: 'bad_shape',
    });
  });

  test('maps access_token_info -1 to a KakaoApiError', async () => {
    const server = await fakeKakao((_req, res) => json(res, 400, { msg: 'internal error', code: -1 }));
    await expect(client(server.origin).accessTokenInfo(ACCESS_TOKEN)).rejects.toMatchObject({
      status: 400,
      apiCode: -1,
    });
  });
});

describe('KakaoClient arguments', () => {
  test.each([
    ['getUser', (k: KakaoClient) => k.getUser('')],
    ['getUser with a newline', (k: KakaoClient) => k.getUser('abc\r\nX-Evil: 1')],
    ['refreshToken', (k: KakaoClient) => k.refreshToken(undefined as unknown as string)],
    [
      'exchangeCode with a short verifier',
      (k: KakaoClient) =>
        k.exchangeCode({ code: CODE, redirectUri: REDIRECT_URI, codeVerifier: 'short-secret-verifier' }),
    ],
    [
      'getUser with bad propertyKeys',
      (k: KakaoClient) => k.getUser(ACCESS_TOKEN, { propertyKeys: 'email' as never }),
    ],
  ])('rejects a malformed argument to %s before any request, without quoting it', async (_name, call) => {
    const server = await fakeKakao((_req, res) => json(res, 200, {}));
    const error = await failure(call(client(server.origin)));

    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect((error as Error).message).not.toMatch(/short-secret|X-Evil/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('KakaoClient constructor', () => {
  function configError(options: unknown): TypeError & { code?: string } {
    try {
      new KakaoClient(options as KakaoClientOptions);
    } catch (error) {
      return error as TypeError;
    }
    throw new Error('expected the constructor to throw');
  }

  test('applies Kakao defaults and exposes the origins and client id', () => {
    const kakao = new KakaoClient({ clientID: 'rest-api-key' });
    expect(kakao).toMatchObject({
      clientID: 'rest-api-key',
      authOrigin: 'https://kauth.kakao.com',
      apiOrigin: 'https://kapi.kakao.com',
    });
  });

  test('drops a trailing slash from an origin', () => {
    expect(new KakaoClient({ clientID: 'k', authOrigin: 'http://127.0.0.1:8080/' }).authOrigin).toBe(
      'http://127.0.0.1:8080',
    );
  });

  test('is frozen, leaves the caller options alone and never shows the secret', () => {
    const options = { clientID: 'rest-api-key', clientSecret: SECRET };
    const kakao = new KakaoClient(options);

    expect(Object.isFrozen(kakao)).toBe(true);
    expect(options).toEqual({ clientID: 'rest-api-key', clientSecret: SECRET });
    expect(inspect(kakao, { showHidden: true, depth: 5 })).not.toContain(SECRET);
    expect(JSON.stringify(kakao)).not.toContain(SECRET);
    expect(Object.values({ ...kakao })).not.toContain(SECRET);
  });

  test.each([
    [{}, /"clientID" must be a non-empty string .*REST API key/],
    [
      { clientID: 'k', authOrigin: 'kauth.kakao.com' },
      /"authOrigin" must be an absolute http\(s\) URL such as https:\/\/kauth\.kakao\.com \(got "kauth\.kakao\.com"\)/,
    ],
    [
      { clientID: 'k', apiOrigin: 'ftp://kapi.kakao.com' },
      /"apiOrigin" must be an absolute http\(s\) URL such as https:\/\/kapi\.kakao\.com/,
    ],
    [
      { clientID: 'k', authOrigin: 'https://kauth.kakao.com/oauth' },
      /"authOrigin" must be an origin without a path/,
    ],
    [{ clientID: 'k', timeoutMs: 0 }, /"timeoutMs" must be a positive integer \(got 0\)/],
    [{ clientID: 'k', timeoutMs: '5000' }, /"timeoutMs" must be a positive integer/],
    [{ clientID: 'k', logoutTimeoutMs: 2 ** 40 }, /"logoutTimeoutMs" must be at most/],
    [{ clientID: 'k', maxResponseBytes: -1 }, /"maxResponseBytes" must be a positive integer/],
    [{ clientID: 'k', fetch: 'fetch' }, /"fetch" must be a fetch function/],
    [{ clientId: 'k' }, /unknown option "clientId"; did you mean "clientID"\?/],
    [null, /options must be an object/],
  ])('rejects %j with a message that teaches the fix', (options, message) => {
    const error = configError(options);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(error.message).toMatch(message);
  });

  test.each([[''], ['  '], [`${SECRET} `], [42]])(
    'rejects the client secret %j without echoing it',
    (secret) => {
      const error = configError({ clientID: 'k', clientSecret: secret });
      expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
      expect(error.message).toMatch(/"clientSecret" must be a non-empty string/);
      expect(error.message).not.toContain(SECRET);
    },
  );
});

describe('configuration errors', () => {
  test.each([
    ['KOE303', 400, 'invalid_grant', /redirect_uri differs/],
    ['KOE009', 400, 'misconfigured', /\[Platform\] > Web/],
    ['KOE101', 401, 'invalid_client', /REST API key/],
    ['KOE010', 401, 'invalid_client', /clientSecret/],
  ])(
    '%s at the token endpoint has a fix text that quotes nothing from the request',
    async (koe, status, error, fix) => {
      const server = await fakeKakao((_req, res) =>
        json(res, status, { error, error_description: `bad request for code=${CODE}`, error_code: koe }),
      );
      const failed = await failure(exchange(client(server.origin, { clientSecret: SECRET })));

      expect(failed).toBeInstanceOf(KakaoTokenError);
      const hint = tokenErrorConfigurationHint(failed);
      expect(hint).toMatch(fix);
      expect(hint).toContain(koe);
      for (const secret of [CODE, SECRET, VERIFIER, 'rest-api-key']) expect(hint).not.toContain(secret);
    },
  );

  test.each([['KOE320'], ['KOE322'], ['KOE237'], [undefined]])(
    'a user-side token error (%s) has no configuration hint',
    async (koe) => {
      const server = await fakeKakao((_req, res) =>
        json(res, 400, { error: 'invalid_grant', error_description: 'x', error_code: koe }),
      );
      expect(tokenErrorConfigurationHint(await failure(exchange(client(server.origin))))).toBeUndefined();
    },
  );

  test('only Kakao token errors have a hint', () => {
    expect(tokenErrorConfigurationHint(new Error('KOE101'))).toBeUndefined();
    expect(tokenErrorConfigurationHint({ code: 'ERR_KAKAO_TOKEN', errorCode: 'KOE101' })).toBeUndefined();
    expect(apiErrorConfigurationHint(new KakaoApiError({ status: 401, apiCode: -401 }))).toBeUndefined();
  });

  test.each([
    [-903, 400, /not registered/],
    [-13, 403, /not list/],
    [-3, 403, /not\s+enabled/],
  ])('kapi %d is known as a configuration error', async (code, status, fix) => {
    const server = await fakeKakao((_req, res) => json(res, status, { msg: 'refused', code }));
    const failed = await failure(client(server.origin).getUser(ACCESS_TOKEN));
    expect(failed).toMatchObject({ apiCode: code, status });
    expect(apiErrorConfigurationHint(failed)).toMatch(fix);
  });

  test("a kapi error keeps Kakao's reason and allowed_scopes, and drops a reason that is not a plain word", async () => {
    const server = await fakeKakao((req, res) =>
      json(res, 403, {
        msg: 'insufficient scopes.',
        code: -402,
        reason: req.url!.includes('bad') ? `token ${ACCESS_TOKEN} <b>` : 'consent.required',
        required_scopes: ['account_email'],
        allowed_scopes: ['profile_nickname', 'bad scope!'],
      }),
    );
    const kakao = client(server.origin);
    const failed = (await failure(kakao.getUser(ACCESS_TOKEN))) as KakaoApiError;
    expect(failed).toMatchObject({ reason: 'consent.required', allowedScopes: ['profile_nickname'] });
    const bad = (await failure(kakao.getUser(ACCESS_TOKEN, { propertyKeys: ['bad'] }))) as KakaoApiError;
    expect(bad.reason).toBeUndefined();
    expect(inspect(bad)).not.toContain(ACCESS_TOKEN);
  });
});
