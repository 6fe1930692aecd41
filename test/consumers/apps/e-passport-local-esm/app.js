// An app that already has its own e-mail/password login (passport-local on the global passport) and
// adds Login with Kakao: kakaoAuth must leave the local user's session alone, and each kind of login
// replaces the other.
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import {
  kakaoAuth,
  RedisTokenStore,
  createTokenCipher,
  parseKeyRing,
  ReauthRequiredError,
} from 'kakao-login-express';

const LOCAL_USERS = new Map([
  ['alice', { password: 'wonderland', user: { id: 'local:alice', name: 'Alice' } }],
]);

passport.use(
  new LocalStrategy((username, password, done) => {
    const entry = LOCAL_USERS.get(username);
    done(null, entry && entry.password === password ? entry.user : false);
  }),
);
passport.serializeUser((user, done) => done(null, user.id));
passport.deserializeUser((id, done) => {
  const entry = [...LOCAL_USERS.values()].find((e) => e.user.id === id);
  done(null, entry ? entry.user : false);
});

export function createApp(options) {
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
  // The app's existing login, mounted first; Kakao is added after it, as an app adopting it would.
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(auth);

  app.post(
    '/login/local',
    express.urlencoded({ extended: false }),
    passport.authenticate('local', { failureRedirect: '/?login_error=local' }),
    (req, res) => res.redirect('/'),
  );
  app.post('/logout/local', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.redirect('/')));
  });
  app.get('/', (req, res) =>
    res.type('text').send(req.user ? `hello ${req.user.name ?? req.user.nickname}` : 'hello'),
  );
  app.get('/me', (req, res) =>
    req.user ? res.json({ id: req.user.id }) : res.status(401).json({ error: 'unauthenticated' }),
  );
  app.get('/me/kakao', async (req, res) => {
    const me = await auth.withAccessToken(req, (token) => auth.strategy.client.getUser(token));
    res.json({ id: me.id });
  });
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof ReauthRequiredError) return res.status(401).json({ error: 'reauth_required' });
    console.error(err);
    res.status(500).json({ error: 'internal' });
  });
  // With enableOfflineQueue: false, commands fail until the connection is up: serve after 'ready'.
  const ready =
    redis.status === 'ready' ? Promise.resolve() : new Promise((resolve) => redis.once('ready', resolve));
  return { app, ready, close: () => redis.quit() };
}
