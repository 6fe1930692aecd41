import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import {
  MemoryTokenStore,
  RedisTokenStore,
  consoleLogger,
  createTokenCipher,
  isKakaoError,
  kakaoAuth,
  kakaoErrorHandler,
  type KakaoAuthOptionsWithStrategyOptions,
  type KakaoAuthRouter,
  type KakaoLogger,
  type KakaoSessionUser,
} from 'kakao-login-express';
import type { AppConfig } from './config';
import type { AppRedis } from './redis';
import { errorPage, homePage } from './views';

export { FAIL_FAST_REDIS_OPTIONS } from './redis';

/** What {@link createApp} needs besides the configuration. */
export interface CreateAppOptions {
  config: AppConfig;
  /** The redirect URI actually used (KAKAO_CALLBACK_URL or derived from the real port). */
  callbackURL: string;
  /** The Redis connection when REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is set (see redis.ts). */
  redis?: AppRedis;
  /** The emulator's origin in demo mode (shown on the page, allowed for images). */
  emulatorUrl?: string;
  logger?: KakaoLogger;
  /** Test and benchmark hooks (e.g. an injected clock); production leaves this unset. */
  overrides?: Partial<KakaoAuthOptionsWithStrategyOptions>;
}

/** Whatever client RedisTokenStore takes; redis.ts builds the one for the configured library. */
type TokenStoreClient = ConstructorParameters<typeof RedisTokenStore>[0]['client'];

/** Longest URL accepted on the auth routes. */
const MAX_AUTH_URL_LENGTH = 4096;

/** Sessions end after this much inactivity (server side, in Redis). */
const IDLE_TIMEOUT_SECONDS = 30 * 60;

const IMAGE_SOURCES = ["'self'", 'data:', 'https://*.kakaocdn.net', 'http://*.kakaocdn.net'];

/** Builds the example app: helmet, sessions (Redis or memory), kakaoAuth, and the pages of the contract. */
export function createApp(options: CreateAppOptions): { app: express.Express; auth: KakaoAuthRouter } {
  const { config, callbackURL, redis, emulatorUrl } = options;
  const logger = options.logger ?? consoleLogger;
  const secure = callbackURL.startsWith('https://');
  const cookieName = secure ? '__Host-kle.sid' : 'kle.sid';

  const app = express();
  app.disable('x-powered-by');
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'img-src': emulatorUrl ? [...IMAGE_SOURCES, emulatorUrl] : IMAGE_SOURCES,
          // Over plain http (local development) upgrading would break the page's own requests.
          'upgrade-insecure-requests': secure ? [] : null,
          // "Logout from Kakao too" posts to /logout, which redirects to Kakao's account logout:
          // Chromium applies form-action to that redirect as well.
          'form-action': ["'self'", new URL(config.authOrigin).origin],
        },
      },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      // helmet's default Referrer-Policy (no-referrer) stays: Chromium then sends "Origin: null" with
      // "Sec-Fetch-Site: same-origin" on the logout form, which kakaoAuth accepts.
    }),
  );

  // R68: auth URLs are short; an oversized one is refused before the session store is touched.
  app.use(function limitAuthUrls(req: Request, res: Response, next: NextFunction) {
    if (req.url.length > MAX_AUTH_URL_LENGTH && req.path.startsWith('/auth/')) res.status(414).end();
    else next();
  });

  const auth = kakaoAuth({
    clientID: config.clientID ?? '',
    ...(config.clientSecret !== undefined && { clientSecret: config.clientSecret }),
    callbackURL,
    scope: config.scopes,
    openid: config.oidc,
    authOrigin: config.authOrigin,
    apiOrigin: config.apiOrigin,
    sessionCookieName: cookieName,
    kakaoAccountLogoutRedirectURL: `${new URL(callbackURL).origin}/logout/kakao/callback`,
    ...(config.adminKey !== undefined &&
      config.appId !== undefined && { adminKey: config.adminKey, appId: config.appId }),
    tokenStore: redis
      ? new RedisTokenStore({ client: redis.client as TokenStoreClient, prefix: 'kle:' })
      : new MemoryTokenStore(),
    tokenCipher: createTokenCipher({ keys: config.tokenKeys }),
    logger,
    renderError: (_req, res, error) => {
      res.status(error.status).type('html').send(errorPage(error.status, error.requestId));
    },
    ...options.overrides,
  });

  // A session ended by logout or unlink cannot be written back by a request still holding it.
  // The client goes along because connect-redis 8 (the ioredis store) does not expose it: the guard
  // then renews the idle TTL while it reads (one Redis command per request) and the login start sees a
  // Redis outage.
  const sessionStore = redis
    ? auth.guardSessionStore(redis.sessionStore({ prefix: 'kle:sess:', ttlSeconds: IDLE_TIMEOUT_SECONDS }), {
        client: redis.client as TokenStoreClient,
      })
    : auth.guardSessionStore(new session.MemoryStore());
  app.use(
    session({
      name: cookieName,
      secret: config.sessionSecrets,
      resave: false,
      saveUninitialized: false,
      // Idle timeout: the Redis TTL (30 min) is renewed by express-session's touch on every
      // request, so the cookie itself is a browser-session cookie and is not re-sent on every
      // response (no `rolling`); the absolute lifetime (12 h) is checked by kakaoAuth.
      store: sessionStore,
      cookie: { httpOnly: true, sameSite: 'lax', secure, path: '/' },
    }),
  );
  app.use(auth);

  app.get('/', (req: Request, res: Response) => {
    const loginError =
      typeof req.query.login_error === 'string' ? req.query.login_error.slice(0, 64) : undefined;
    res.set('Cache-Control', 'no-store');
    res.type('html').send(
      homePage({
        user: req.user as KakaoSessionUser | undefined,
        loginError,
        demoEmulatorUrl: emulatorUrl,
      }),
    );
  });

  app.get('/me', (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    const user = req.user as KakaoSessionUser | undefined;
    if (!user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    res.json({
      id: user.id,
      ...(user.nickname !== undefined && { nickname: user.nickname }),
      ...(user.email !== undefined && { email: user.email, emailVerified: true }),
      ...(user.image !== undefined && { image: user.image }),
    });
  });

  app.get('/me/kakao', (req: Request, res: Response, next: NextFunction) => {
    res.set('Cache-Control', 'no-store');
    if (!req.user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    auth
      .withAccessToken(req, (accessToken) => auth.strategy.client.getUser(accessToken))
      .then((me) => res.json(me))
      .catch((err: unknown) => {
        if (isKakaoError(err, 'ERR_KAKAO_REAUTH_REQUIRED'))
          res.status(401).json({ error: 'reauth_required' });
        else next(err);
      });
  });

  // { ok, redis, topology }: 503 unless every master the app writes to answered PING within 500 ms
  // (half the contract's 1 s, so a busy event loop or a slow network still gets the answer in time).
  app.get('/healthz', (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    if (!redis) {
      res.json({ ok: true });
      return;
    }
    void redis.check(500).then((state) => {
      const body = { ok: state === 'ready', redis: state, topology: redis.topology };
      if (body.ok) res.json(body);
      else res.status(503).set('Retry-After', '5').json(body);
    });
  });

  app.use((req: Request, res: Response) => {
    res.status(404).type('html').send(errorPage(404, randomUUID()));
  });

  // Store outages (express-session passes Redis errors here), Kakao failures and timeouts: 503, 502,
  // 504 without stack traces; pages get the app's error page, /me* and /healthz JSON.
  app.use(
    kakaoErrorHandler({
      logger,
      renderError: (_req, res, error) => {
        res.status(error.status).type('html').send(errorPage(error.status, error.requestId));
      },
    }),
  );
  // Anything else: a 500 with a correlation id, nothing internal in the response.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = randomUUID();
    const status = clientErrorStatus(err) ?? 500;
    if (process.env.DEBUG_KLE) console.error(err);
    logger({
      level: status >= 500 ? 'error' : 'warn',
      event: 'request_failed',
      reason: String(status),
      ip: req.ip,
      requestId,
    });
    if (res.headersSent) return;
    if (req.path.startsWith('/me') || req.path === '/healthz')
      res.status(status).json({ error: 'error', requestId });
    else res.status(status).type('html').send(errorPage(status, requestId));
  });

  return { app, auth };
}

/** The 4xx status of a client error raised by Express itself (a malformed URL, say), if it is one. */
function clientErrorStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
