'use strict';
// helmet() with its defaults in front of kakaoAuth: CSP, and Referrer-Policy: no-referrer, under
// which Chromium sends `Origin: null` on the page's own logout form.
const express = require('express');
const session = require('express-session');
const helmet = require('helmet');
const { RedisStore } = require('connect-redis');
const { Redis } = require('ioredis');
const {
  kakaoAuth,
  RedisTokenStore,
  createTokenCipher,
  parseKeyRing,
  ReauthRequiredError,
} = require('kakao-login-express');

const escapeHtml = (text) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );

function homePage(user) {
  const body = user
    ? `<p>Logged in as <span data-user-id>${escapeHtml(user.id)}</span> (${escapeHtml(user.nickname ?? '')})</p>
       <form id="logout" method="post" action="/logout"><button type="submit">Log out</button></form>`
    : '<p><a id="login" href="/auth/kakao">Log in with Kakao</a></p>';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>helmet consumer</title></head><body>${body}</body></html>`;
}

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
  app.use(helmet());
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
  app.get('/', (req, res) => res.set('Cache-Control', 'no-store').type('html').send(homePage(req.user)));
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

module.exports = { createApp };
