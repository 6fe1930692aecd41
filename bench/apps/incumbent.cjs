/* global require, process, console */
/* eslint-disable @typescript-eslint/no-require-imports */
// (b) The incumbent: passport-kakao 1.0.1 with express-session + connect-redis, tokens kept in the session
// (the pattern most tutorials show). Env: PORT, HOST, REDIS_URL, SESSION_SECRET, KAKAO_CLIENT_ID,
// KAKAO_AUTH_ORIGIN, KAKAO_API_ORIGIN, KAKAO_SCOPES, BENCH_AUTO_PIPELINING. Prints `listening on http://host:port`.
const http = require('node:http');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis-8');
const { Redis } = require('ioredis');
const passport = require('passport');
const KakaoStrategy = require('passport-kakao').Strategy;

const host = process.env.HOST ?? '127.0.0.1';
const authOrigin = process.env.KAKAO_AUTH_ORIGIN;
const apiOrigin = process.env.KAKAO_API_ORIGIN;

/**
 * passport-kakao 1.0.1 hard-codes kauth/kapi.kakao.com (buildOptions overwrites authorizationURL and
 * tokenURL), so the smallest change that points it at the emulator is to reset the URLs after construction.
 * It also sends the access token as `?access_token=` (the `oauth` package's default for GET), which Kakao's
 * documentation (and the emulator) do not accept; the public `useAuthorizationHeaderforGET` switch sends
 * `Authorization: Bearer` instead.
 */
class EmulatorKakaoStrategy extends KakaoStrategy {
  constructor(options, verify) {
    super(options, verify);
    this._oauth2._authorizeUrl = `${authOrigin}/oauth/authorize`;
    this._oauth2._accessTokenUrl = `${authOrigin}/oauth/token`;
    this._oauth2.useAuthorizationHeaderforGET(true);
    this._userProfileURL = `${apiOrigin}/v2/user/me`;
  }
}

async function main() {
  // The same client behaviour as the example app (a), whose ioredis client auto-pipelines: batching the
  // commands of concurrent requests into one write is an ioredis option any app can turn on, not
  // something the library under test does. BENCH_AUTO_PIPELINING=0 measures the plain client.
  const redis = new Redis(process.env.REDIS_URL, {
    enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING !== '0',
  });
  const server = http.createServer();
  await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), host, resolve));
  const url = `http://${host}:${server.address().port}`;

  passport.use(
    new EmulatorKakaoStrategy(
      {
        clientID: process.env.KAKAO_CLIENT_ID,
        callbackURL: `${url}/auth/kakao/callback`,
        // The same consent items as the example app (KAKAO_SCOPES, set by the bench for both). Without
        // `scope` Kakao asks for every item set up in the console, and consent is per user and app, so
        // the apps would see different (larger) profiles.
        scope: (process.env.KAKAO_SCOPES ?? 'profile_nickname,profile_image').split(',').filter(Boolean),
      },
      (accessToken, refreshToken, profile, done) =>
        done(null, { id: String(profile.id), nickname: profile.displayName, accessToken, refreshToken }),
    ),
  );
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));

  const app = express();
  app.use(
    session({
      secret: process.env.SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
      store: new RedisStore({ client: redis, prefix: 'inc:sess:' }),
    }),
  );
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/auth/kakao', passport.authenticate('kakao'));
  app.get(
    '/auth/kakao/callback',
    passport.authenticate('kakao', { failureRedirect: '/?login_error=1' }),
    (req, res) => res.redirect('/'),
  );
  app.get('/me', (req, res) => {
    if (!req.user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    res.json({ id: req.user.id, nickname: req.user.nickname });
  });
  server.on('request', app);
  console.log(`listening on ${url}`);
  const stop = () => {
    server.close();
    server.closeAllConnections();
    redis.quit().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`incumbent app failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
