/**
 * Conformance of KakaoStrategy's OpenID Connect mode against an independent implementation: panva's
 * certified `oidc-provider`, configured like Kakao, in a child process. Real logins run through its login
 * and consent interactions over HTTP.
 *
 * The negative OpenID RP conformance cases need a provider that misbehaves, which oidc-provider will not
 * do. For those an interposer sits between the strategy and the provider (it is the issuer the provider
 * was configured with): it passes everything through, and for one test at a time rewrites the ID token
 * of the token response and signs it again with the provider's own key (or with a rogue key, or not at
 * all). So each negative case differs from a genuine oidc-provider token in exactly one point.
 */
import { createSign } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { Passport } from 'passport';
import type { KakaoLogEvent } from '../../lib/logger';
import { statusForError } from '../../lib/kakao-auth/errors';
import { KakaoStrategy } from '../../lib/strategy';
import {
  generateSigningKey,
  startOidcProvider,
  type RunningOidcProvider,
  type TestSigningKey,
} from '../helpers/oidc-provider-process';

const CLIENT_ID = 'conformance-rest-api-key';
const CLIENT_SECRET = 'conformance-client-secret-0123456789';
const MINJI = '4120937465';

type Json = Record<string, unknown>;
/** Changes a decoded ID token in place and says how to sign the result. */
type Rewrite = (token: { header: Json; claims: Json }) => 'provider-key' | 'rogue-key' | 'unsigned';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const unb64json = (segment: string): Json =>
  JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Json;

/** The interposer: a transparent proxy to oidc-provider that can rewrite ID tokens, plus /v2/user/me. */
class Interposer {
  readonly server = createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  });
  url = '';
  upstream: URL | undefined;
  rewrite: Rewrite | undefined;
  /** The provider's current signing key, used when re-signing. */
  providerKey: TestSigningKey | undefined;
  readonly rogueKey = generateSigningKey('rogue');
  /** Headers of the ID tokens oidc-provider issued, before any rewrite. */
  readonly issuedHeaders: Json[] = [];

  private forward(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const upstream = this.upstream!;
    return new Promise((resolve, reject) => {
      // The Host header is passed on unchanged: oidc-provider builds its URLs from it.
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method, path, headers },
        (answer) => {
          readBody(answer).then(
            (buffer) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: buffer }),
            reject,
          );
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? '/';
    if (path.startsWith('/v2/user/me')) {
      await this.userMe(req, res);
      return;
    }
    const answer = await this.forward(req.method ?? 'GET', path, req.headers, body);
    let out = answer.body;
    if (path === '/oauth/token' && answer.status === 200) out = this.tokenResponse(out);
    const headers = { ...answer.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    res.writeHead(answer.status, { ...headers, 'content-length': String(out.length) });
    res.end(out);
  }

  /** Kakao's /v2/user/me, answered from oidc-provider's userinfo for the same access token. */
  private async userMe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = await this.forward(
      'GET',
      '/v1/oidc/userinfo',
      { host: req.headers.host, authorization: req.headers.authorization, accept: 'application/json' },
      Buffer.alloc(0),
    );
    const info = answer.status === 200 ? (JSON.parse(answer.body.toString('utf8')) as Json) : {};
    if (typeof info.sub !== 'string' || !/^[1-9]\d{0,18}$/.test(info.sub)) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"msg":"this access token does not exist","code":-401}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
    // Kakao sends the id as a JSON number.
    res.end(`{"id":${info.sub},"properties":${JSON.stringify({ nickname: info.nickname })}}`);
  }

  private tokenResponse(raw: Buffer): Buffer {
    const response = JSON.parse(raw.toString('utf8')) as Json;
    if (typeof response.id_token !== 'string') return raw;
    const [h, c] = response.id_token.split('.') as [string, string, string];
    const header = unb64json(h);
    this.issuedHeaders.push(header);
    if (!this.rewrite) return raw;
    const token = { header, claims: unb64json(c) };
    const how = this.rewrite(token);
    const input = `${b64json(token.header)}.${b64json(token.claims)}`;
    if (how === 'unsigned') {
      response.id_token = `${input}.`;
    } else {
      const key = how === 'rogue-key' ? this.rogueKey : this.providerKey!;
      response.id_token = `${input}.${createSign('sha256').update(input).sign(key.privateKey, 'base64url')}`;
    }
    return Buffer.from(JSON.stringify(response));
  }
}

/** A minimal cookie jar: one host, cookies by name (oidc-provider scopes some by path; sending more is harmless). */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const expired = attributes.some((a) => {
        const [key = '', value = ''] = a.trim().split('=');
        return (
          (key.toLowerCase() === 'max-age' && Number(value) <= 0) ||
          (key.toLowerCase() === 'expires' && Date.parse(value) < Date.now())
        );
      });
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(at + 1).trim());
    }
  }

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: this.header() },
    });
    this.store(res);
    return res;
  }
}

interface LoginResult {
  status: number;
  body: { user?: { id: string; issuer: string; claims: Json }; failure?: { code: string }; error?: string };
  authorizeUrl: URL;
}

describe('KakaoStrategy in OpenID Connect mode against oidc-provider (OpenID RP conformance cases)', () => {
  let provider: RunningOidcProvider;
  const interposer = new Interposer();
  const appServer = createServer((req, res) => currentApp(req, res));
  let currentApp: express.Express;
  let appUrl = '';
  let events: KakaoLogEvent[] = [];
  let clockOffset = 0;
  const k1 = generateSigningKey('op-key-1');
  const k2 = generateSigningKey('op-key-2');
  let providerKeys: TestSigningKey[] = [k1];

  async function setProviderKeys(keys: TestSigningKey[]): Promise<void> {
    await provider.setKeys(keys);
    providerKeys = keys;
    interposer.providerKey = keys[0];
  }

  /** A fresh strategy (so a fresh JWKS cache) behind a tiny Express app on the same socket. */
  function mountStrategy(): void {
    events = [];
    const strategy = new KakaoStrategy(
      {
        clientID: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        callbackURL: `${appUrl}/auth/kakao/callback`,
        authOrigin: interposer.url,
        apiOrigin: interposer.url,
        openid: true,
        // Kakao issues ID tokens without a scope once OIDC is on in its console; a standard provider
        // such as oidc-provider needs scope=openid.
        scope: 'openid',
        logger: (event) => events.push(event),
        now: () => Date.now() + clockOffset,
      },
      (_accessToken, _refreshToken, _tokens, profile, done) =>
        done(null, { id: profile.id, issuer: profile.issuer, claims: profile.idTokenClaims }),
    );
    const passport = new Passport();
    passport.use(strategy);
    const app = express();
    app.use(session({ secret: 'conformance-session-secret', resave: false, saveUninitialized: false }));
    app.get('/auth/kakao', passport.authenticate('kakao', { session: false }));
    app.get('/auth/kakao/callback', (req, res, next) => {
      const finish = (err: unknown, user: unknown, info: unknown): void => {
        if (err) res.status(statusForError(err)).json({ error: (err as { code?: string }).code ?? 'error' });
        else if (!user) res.status(401).json({ failure: info });
        else res.json({ user });
      };
      (passport.authenticate('kakao', { session: false }, finish) as express.RequestHandler)(req, res, next);
    });
    currentApp = app;
  }

  /** A browser login: app → provider (login, consent) → app callback. */
  async function login(loginName = MINJI): Promise<LoginResult> {
    const appJar = new CookieJar();
    const providerJar = new CookieJar();
    const start = await appJar.fetch(`${appUrl}/auth/kakao`);
    expect(start.status).toBe(302);
    const authorizeUrl = new URL(start.headers.get('location')!);
    let url = authorizeUrl;
    for (let step = 0; step < 20; step++) {
      if (url.origin === appUrl) {
        const callback = await appJar.fetch(url.href);
        return {
          status: callback.status,
          body: (await callback.json()) as LoginResult['body'],
          authorizeUrl,
        };
      }
      const res = await providerJar.fetch(url.href);
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        url = new URL(res.headers.get('location')!, url);
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`oidc-provider answered ${res.status}: ${html.slice(0, 500)}`);
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (!prompt || !action) throw new Error(`unexpected page: ${html.slice(0, 500)}`);
      const form: Record<string, string> =
        prompt === 'login' ? { prompt, login: loginName, password: 'any password' } : { prompt: 'consent' };
      const post = await providerJar.fetch(new URL(action, url).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      await post.body?.cancel();
      url = new URL(post.headers.get('location')!, url);
    }
    throw new Error('the login did not come back to the app');
  }

  function expectRejected(result: LoginResult, reason: string): void {
    expect(result.status).toBe(401);
    expect(result.body.failure?.code).toBe('id_token_invalid');
    expect(events.filter((e) => e.event === 'login_failed').map((e) => e.reason)).toEqual([
      `id_token_${reason}`,
    ]);
  }

  function expectAccepted(result: LoginResult): NonNullable<LoginResult['body']['user']> {
    expect(result).toMatchObject({ status: 200 });
    const user = result.body.user!;
    expect(user.id).toBe(MINJI);
    expect(user.issuer).toBe(interposer.url);
    return user;
  }

  beforeAll(async () => {
    appUrl = await listen(appServer);
    interposer.url = await listen(interposer.server);
    provider = await startOidcProvider({
      issuer: interposer.url,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [`${appUrl}/auth/kakao/callback`],
      keys: [k1],
    });
    interposer.upstream = new URL(provider.url);
    interposer.providerKey = k1;
  }, 30_000);

  afterAll(async () => {
    await provider?.close();
    await close(interposer.server);
    await close(appServer);
  });

  beforeEach(async () => {
    interposer.rewrite = undefined;
    clockOffset = 0;
    if (providerKeys.length !== 1 || providerKeys[0] !== k1) await setProviderKeys([k1]);
    mountStrategy();
  });

  test('the provider is configured like Kakao: code flow only, S256, client_secret_post, RS256', async () => {
    const discovery = (await (
      await fetch(`${interposer.url}/.well-known/openid-configuration`)
    ).json()) as Json;
    expect(discovery).toMatchObject({
      issuer: interposer.url,
      authorization_endpoint: `${interposer.url}/oauth/authorize`,
      token_endpoint: `${interposer.url}/oauth/token`,
      jwks_uri: `${interposer.url}/.well-known/jwks.json`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_post'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });

  test('a real login completes: PKCE, client_secret_post and a verified RS256 ID token from oidc-provider', async () => {
    const result = await login();
    const user = expectAccepted(result);
    expect(user.claims).toMatchObject({ iss: interposer.url, aud: CLIENT_ID, sub: MINJI });
    expect(result.authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(interposer.issuedHeaders.at(-1)).toMatchObject({ alg: 'RS256', kid: 'op-key-1' });
  });

  // Spec: with response_type=code the nonce is optional, but when the RP sends one the ID token must
  // carry it and the RP must check it (OIDC Core 3.1.2.1, 3.1.3.7 step 11).
  test('rp-nonce-unless-code-flow: the code flow sends a nonce, and the ID token carrying it back is accepted', async () => {
    const result = await login();
    const nonce = result.authorizeUrl.searchParams.get('nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(expectAccepted(result).claims.nonce).toBe(nonce);
  });

  // Spec: the RP must notice that the OP rotated its signing key and fetch the new JWKS (OIDC Core 10.1.1).
  test('rp-key-rotation-op-sign-key: after oidc-provider rotates its signing key the next login succeeds', async () => {
    expectAccepted(await login());
    await setProviderKeys([k2]);
    // Past the refetch cooldown of the strategy's JWKS cache.
    clockOffset = 31_000;
    expectAccepted(await login());
    expect(interposer.issuedHeaders.slice(-2).map((h) => h.kid)).toEqual(['op-key-1', 'op-key-2']);
  });

  test('control: an ID token re-signed unchanged by the interposer is accepted', async () => {
    interposer.rewrite = () => 'provider-key';
    expectAccepted(await login());
  });

  // Spec: with a single key in the JWKS a token without `kid` may be verified with that key.
  test('rp-id_token-kid-absent-single-jwks: no kid header and one key in the JWKS is accepted', async () => {
    interposer.rewrite = ({ header }) => {
      delete header.kid;
      return 'provider-key';
    };
    expectAccepted(await login());
  });

  // Spec: without `kid` and several keys the RP cannot tell which key signed; rejecting is allowed (and
  // chosen here rather than trying every key).
  test('rp-id_token-kid-absent-multiple-jwks: no kid header and two keys in the JWKS is rejected', async () => {
    await setProviderKeys([k1, k2]);
    interposer.rewrite = ({ header }) => {
      delete header.kid;
      return 'provider-key';
    };
    expectRejected(await login(), 'kid');
  });

  // Spec: the signature must verify with the OP's key (OIDC Core 3.1.3.7 step 6; the project verifies
  // even over TLS).
  test('rp-id_token-bad-sig-rs256: an ID token with an invalid RS256 signature is rejected', async () => {
    interposer.rewrite = () => 'rogue-key';
    expectRejected(await login(), 'signature');
  });

  // Spec: alg none is only acceptable when the client registered for it; Kakao clients register RS256.
  test('rp-id_token-sig-none: an unsigned ID token (alg none) is rejected', async () => {
    interposer.rewrite = ({ header }) => {
      header.alg = 'none';
      delete header.kid;
      return 'unsigned';
    };
    expectRejected(await login(), 'alg');
  });

  // Spec: iss must exactly match the issuer (OIDC Core 3.1.3.7 step 2).
  test('rp-id_token-issuer-mismatch: an ID token from another issuer is rejected', async () => {
    interposer.rewrite = ({ claims }) => {
      claims.iss = 'https://example.org/';
      return 'provider-key';
    };
    expectRejected(await login(), 'iss');
  });

  // Spec: aud must contain the client id (OIDC Core 3.1.3.7 step 3).
  test('rp-id_token-aud: an ID token for another audience is rejected', async () => {
    interposer.rewrite = ({ claims }) => {
      claims.aud = 'invalid-client-id';
      return 'provider-key';
    };
    expectRejected(await login(), 'aud');
  });

  // Spec: iat is a required claim (OIDC Core 2, 3.1.3.7 step 10).
  test('rp-id_token-iat: an ID token without iat is rejected', async () => {
    interposer.rewrite = ({ claims }) => {
      delete claims.iat;
      return 'provider-key';
    };
    expectRejected(await login(), 'iat');
  });

  // Spec: sub is a required claim (OIDC Core 2).
  test('rp-id_token-sub: an ID token without sub is rejected', async () => {
    interposer.rewrite = ({ claims }) => {
      delete claims.sub;
      return 'provider-key';
    };
    expectRejected(await login(), 'sub');
  });

  // Spec: the nonce claim must equal the nonce sent in the authentication request (OIDC Core 3.1.3.7 step 11).
  test('rp-nonce-invalid: an ID token with another nonce is rejected', async () => {
    interposer.rewrite = ({ claims }) => {
      claims.nonce = 'not-the-nonce-that-was-sent';
      return 'provider-key';
    };
    expectRejected(await login(), 'nonce');
  });
});
