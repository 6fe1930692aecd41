/**
 * The strategy and kakaoAuth in minimal apps built here (not the example app): Passport-only use,
 * the error handler, additional consent, offline access.
 */
import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import session from 'express-session';
import passport from 'passport';
import supertest from 'supertest';
import {
  KakaoResponseError,
  KakaoStrategy,
  MemoryTokenStore,
  ReauthRequiredError,
  TokenStoreError,
  createTokenCipher,
  kakaoAuth,
  kakaoErrorHandler,
  silentLogger,
  type KakaoAuthRouter,
} from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { authorizeAtEmulator } from '../helpers/harness';
import { listen, type Listening } from '../helpers/listen';

const secret = randomBytes(32).toString('base64url');
let kakao: KakaoEmulator;
const servers: Listening[] = [];

beforeAll(async () => {
  kakao = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await kakao.close();
});

async function serve(app: Express): Promise<Listening> {
  const server = await listen(app);
  servers.push(server);
  return server;
}

/** Start at the app, consent at the emulator, come back: the callback's response. */
async function logIn(agent: supertest.Agent, startPath = '/auth/kakao') {
  const start = await agent.get(startPath).redirects(0);
  expect(start.status).toBe(302);
  const callback = await authorizeAtEmulator(start.headers.location!);
  return agent.get(callback.pathname + callback.search).redirects(0);
}

describe('KakaoStrategy on its own, with Passport and express-session', () => {
  let app: Listening;
  /** What the app's callback route saw as Passport's `req.authInfo`, serialised as a logger would. */
  const authInfoDumps: string[] = [];
  beforeAll(async () => {
    const instance = new passport.Passport();
    const server = express();
    server.use(session({ secret, resave: false, saveUninitialized: false }));
    server.use(instance.initialize());
    server.use(instance.session());
    // A port is needed before the callback URL exists: listen first, then mount.
    app = await serve(server);
    instance.use(
      new KakaoStrategy(
        {
          ...kakao.strategyOptions,
          callbackURL: `${app.url}/auth/kakao/callback`,
          transactionSecret: secret,
          logger: silentLogger,
        },
        (_accessToken, _refreshToken, tokens, profile, done) =>
          done(null, {
            id: profile.id,
            nickname: profile.nickname,
            hadRefreshToken: typeof tokens.refresh_token === 'string',
          }),
      ),
    );
    instance.serializeUser((user, done) => done(null, user));
    instance.deserializeUser((user: Express.User, done) => done(null, user));
    server.get('/auth/kakao', instance.authenticate('kakao', { returnTo: '/dashboard' }));
    server.get(
      '/auth/kakao/callback',
      instance.authenticate('kakao', { failureRedirect: '/failed' }),
      (req, res) => {
        authInfoDumps.push(JSON.stringify(req.authInfo));
        res.redirect((req.authInfo as { returnTo?: string } | undefined)?.returnTo ?? '/');
      },
    );
    server.get('/me', (req, res) => (req.user ? res.json(req.user) : res.sendStatus(401)));
  });

  test('logs in with PKCE and state, hands verify the tokens, and keeps the returnTo for the app', async () => {
    const agent = supertest.agent(app.url);
    const res = await logIn(agent);
    expect(res.headers.location).toBe('/dashboard');
    const me = await agent.get('/me');
    expect(me.body).toMatchObject({ id: expect.stringMatching(/^\d+$/), hadRefreshToken: true });
  });

  test("Passport's req.authInfo holds the returnTo and no token a JSON dump could leak", async () => {
    authInfoDumps.length = 0;
    await logIn(supertest.agent(app.url));
    expect(authInfoDumps).toHaveLength(1);
    expect(JSON.parse(authInfoDumps[0]!)).toEqual({ returnTo: '/dashboard' });
    for (const secret of kakao.issuedSecrets()) expect(authInfoDumps[0]).not.toContain(secret);
  });

  test('a replayed callback fails and makes no token call', async () => {
    const agent = supertest.agent(app.url);
    const start = await agent.get('/auth/kakao').redirects(0);
    const callback = await authorizeAtEmulator(start.headers.location!);
    expect((await agent.get(callback.pathname + callback.search).redirects(0)).headers.location).toBe(
      '/dashboard',
    );
    kakao.resetRequests();
    const replay = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(replay.headers.location).toBe('/failed');
    expect(kakao.count('token')).toBe(0);
  });
});

describe('kakaoAuth in a minimal app', () => {
  let app: Listening;
  let auth: KakaoAuthRouter;
  let kakaoWithWebhook: KakaoEmulator;
  const failures: Record<string, () => unknown> = {
    reauth: () => new ReauthRequiredError(),
    store: () =>
      new TokenStoreError('Token store unavailable', { cause: new Error('Connection is closed.') }),
    timeout: () => new KakaoResponseError({ reason: 'timeout', operation: 'user_me' }),
    kakao: () => new KakaoResponseError({ reason: 'http_status', operation: 'user_me', status: 500 }),
    other: () => new Error('a bug of the app'),
  };

  beforeAll(async () => {
    const server = express();
    app = await serve(server);
    kakaoWithWebhook = await createKakaoEmulator({
      autoApprove: true,
      webhookUrl: `${app.url}/webhooks/kakao/unlink`,
    });
    auth = kakaoAuth({
      ...kakaoWithWebhook.strategyOptions,
      adminKey: kakaoWithWebhook.adminKey,
      appId: String(kakaoWithWebhook.appId),
      callbackURL: `${app.url}/auth/kakao/callback`,
      tokenStore: new MemoryTokenStore(),
      tokenCipher: createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] }),
      offlineAccess: true,
      logger: silentLogger,
    });
    server.use(
      session({
        secret,
        resave: false,
        saveUninitialized: false,
        store: auth.guardSessionStore(new session.MemoryStore()),
      }),
    );
    server.use(auth);
    server.get('/consent/email', auth.requestConsent(['account_email'], { returnTo: '/settings' }));
    server.get('/me/kakao', async (req, res, next) => {
      try {
        res.json(await auth.withAccessToken(req, (token) => auth.strategy.client.getUser(token)));
      } catch (err) {
        next(err);
      }
    });
    server.get('/fail/:kind', (req, _res, next) => next(failures[req.params.kind!]!()));
    server.use(kakaoErrorHandler({ logger: silentLogger }));
    server.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send('the app handles the rest');
    });
  });

  afterAll(() => kakaoWithWebhook.close());

  test.each([
    ['reauth', 401, 'reauth_required', undefined],
    ['store', 503, 'service_unavailable', '5'],
    ['timeout', 504, 'kakao_timeout', undefined],
    ['kakao', 502, 'kakao_error', undefined],
  ])(
    'kakaoErrorHandler answers a %s error with %i JSON, no stack',
    async (kind, status, error, retryAfter) => {
      const res = await supertest(app.url).get(`/fail/${kind}`).set('Accept', 'application/json');
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error, requestId: expect.any(String) });
      expect(res.headers['retry-after']).toBe(retryAfter);
      expect(res.text).not.toMatch(/at .*\(.*:\d+:\d+\)/);
    },
  );

  test('kakaoErrorHandler renders a page for browsers, and leaves errors it does not know to the app', async () => {
    const page = await supertest(app.url).get('/fail/store').set('Accept', 'text/html');
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toMatch(/html/);
    const other = await supertest(app.url).get('/fail/other');
    expect(other.status).toBe(500);
    expect(other.text).toBe('the app handles the rest');
  });

  test('requestConsent starts a login that asks for exactly the named items, and refuses non-navigations', async () => {
    const res = await supertest(app.url).get('/consent/email?scope=talk_message').redirects(0);
    expect(res.status).toBe(302);
    const url = new URL(res.headers.location!);
    expect(url.searchParams.get('scope')).toBe('account_email');
    const img = await supertest(app.url)
      .get('/consent/email')
      .set('Sec-Fetch-Dest', 'image')
      .set('Sec-Fetch-Mode', 'no-cors')
      .set('Sec-Fetch-Site', 'cross-site')
      .redirects(0);
    expect(img.status).toBe(403);
    expect(img.headers['set-cookie']).toBeUndefined();
  });

  test('offline access: the token set outlives the session, and unlink from Kakao removes it', async () => {
    const agent = supertest.agent(app.url);
    const start = await agent.get('/auth/kakao').redirects(0);
    const back = await authorizeAtEmulator(start.headers.location!);
    expect((await agent.get(back.pathname + back.search).redirects(0)).headers.location).toBe('/');
    const me = (await agent.get('/me/kakao')).body as { id: string };
    await agent.post('/logout').expect(302);
    expect((await agent.get('/me/kakao')).status).toBe(401);
    // The user is away; the app still calls Kakao for them.
    const user = await auth.withOfflineAccessToken(me.id, (token) => auth.strategy.client.getUser(token));
    expect(user.id).toBe(me.id);
    // The user disconnects the app in Kakao; Kakao's webhook reaches the app.
    expect(await kakaoWithWebhook.unlinkFromKakao(me.id)).toBe(200);
    await expect(auth.getOfflineAccessToken(me.id)).rejects.toMatchObject({
      code: 'ERR_KAKAO_REAUTH_REQUIRED',
    });
  });
});
