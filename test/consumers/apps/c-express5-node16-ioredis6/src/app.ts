// An Express 5 app in TypeScript (module node16, CommonJS output) with ioredis 6 and connect-redis 8.
import { RedisStore } from 'connect-redis';
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import {
  kakaoAuth,
  RedisTokenStore,
  createTokenCipher,
  parseKeyRing,
  isKakaoError,
  ReauthRequiredError,
  type KakaoSessionUser,
} from 'kakao-login-express';

export interface AppOptions {
  redisUrl: string;
  prefix: string;
  sessionSecret: string;
  tokenKeys: string;
  kakao: { clientID: string; authOrigin: string; apiOrigin: string };
  callbackURL: string;
}

export function createApp(options: AppOptions): {
  app: express.Express;
  ready: Promise<void>;
  close(): Promise<unknown>;
} {
  const redis = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 800,
  });
  const auth = kakaoAuth({
    ...options.kakao,
    callbackURL: options.callbackURL,
    tokenStore: new RedisTokenStore({ client: redis, prefix: `${options.prefix}kakao:` }),
    tokenCipher: createTokenCipher({ keys: parseKeyRing(options.tokenKeys) }),
  });

  const app = express();
  app.use(
    session({
      secret: options.sessionSecret,
      resave: false,
      saveUninitialized: false,
      store: auth.guardSessionStore(
        new RedisStore({ client: redis, prefix: `${options.prefix}sess:`, ttl: 1800 }),
      ),
      cookie: { httpOnly: true, sameSite: 'lax' },
    }),
  );
  app.use(auth);
  app.get('/', (req, res) => {
    res.type('text').send(req.user ? `hello ${(req.user as KakaoSessionUser).nickname}` : 'hello');
  });
  app.get('/me', (req, res) => {
    const user = req.user as KakaoSessionUser | undefined;
    if (user) res.json({ id: user.id, nickname: user.nickname });
    else res.status(401).json({ error: 'unauthenticated' });
  });
  app.get('/me/kakao', async (req, res) => {
    const me = await auth.withAccessToken(req, (token) => auth.strategy.client.getUser(token));
    res.json({ id: me.id });
  });
  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof ReauthRequiredError) res.status(401).json({ error: 'reauth_required' });
    else res.status(isKakaoError(err) ? 502 : 500).json({ error: 'failed' });
  };
  app.use(onError);
  // With enableOfflineQueue: false, commands fail until the connection is up: serve after 'ready'.
  const ready =
    redis.status === 'ready'
      ? Promise.resolve()
      : new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  return { app, ready, close: () => redis.quit() };
}
