// An Express 5 app in ESM TypeScript (moduleResolution bundler) on node-redis 5 and connect-redis 9,
// the session store the README recommends for new apps. Written against the new public API:
// RedisTokenStore takes a node-redis client, kakaoErrorHandler() maps the library's errors, and
// req.user has the Kakao user's type through the documented one-liner below.
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import {
  kakaoAuth,
  kakaoErrorHandler,
  RedisTokenStore,
  createTokenCipher,
  parseKeyRing,
  type KakaoStrategyOptionsBase,
  type KakaoSessionUser,
} from 'kakao-login-express';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends KakaoSessionUser {}
  }
}

export interface AppOptions {
  redisUrl: string;
  prefix: string;
  sessionSecret: string;
  tokenKeys: string;
  kakao: Pick<KakaoStrategyOptionsBase, 'clientID' | 'clientSecret' | 'authOrigin' | 'apiOrigin'>;
  callbackURL: string;
}

export async function createApp(
  options: AppOptions,
): Promise<{ app: express.Express; close(): Promise<unknown> }> {
  const redis = createClient({
    url: options.redisUrl,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(retries * 200, 2000) },
  });
  redis.on('error', () => {});
  await redis.connect();

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
    res.type('text').send(req.user ? `hello ${req.user.nickname ?? req.user.id}` : 'hello');
  });
  app.get('/me', (req, res) => {
    if (req.user) res.json({ id: req.user.id, nickname: req.user.nickname });
    else res.status(401).json({ error: 'unauthenticated' });
  });
  app.get('/me/kakao', async (req, res) => {
    const me = await auth.withAccessToken(req, (token) => auth.strategy.client.getUser(token));
    res.json({ id: me.id });
  });
  app.use(kakaoErrorHandler());
  return { app, close: () => redis.quit() };
}
