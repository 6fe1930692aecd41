'use strict';
// An Express 4 app in plain CommonJS, written as the README tells a user to.
const express = require('express');
const session = require('express-session');
const RedisStore = require('connect-redis').default;
const { Redis } = require('ioredis');
const {
  kakaoAuth,
  RedisTokenStore,
  createTokenCipher,
  parseKeyRing,
  ReauthRequiredError,
} = require('kakao-login-express');

/**
 * @param {{ redisUrl: string, prefix: string, sessionSecret: string, tokenKeys: string,
 *   kakao: { clientID: string, authOrigin: string, apiOrigin: string }, callbackURL: string }} options
 */
function createApp(options) {
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
  app.get('/', (req, res) => res.type('text').send(req.user ? `hello ${req.user.nickname}` : 'hello'));
  app.get('/me', (req, res) =>
    req.user ? res.json({ id: req.user.id }) : res.status(401).json({ error: 'unauthenticated' }),
  );
  app.get('/me/kakao', (req, res, next) => {
    auth
      .withAccessToken(req, (token) => auth.strategy.client.getUser(token))
      .then((me) => res.json({ id: me.id }))
      .catch(next);
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

module.exports = { createApp };
