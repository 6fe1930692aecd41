/* global require, process, console */
/* eslint-disable @typescript-eslint/no-require-imports */
// (c) The floor: express-session + connect-redis + passport.session() and a synthetic login (no OAuth).
// Env: PORT, HOST, REDIS_URL, SESSION_SECRET, BENCH_AUTO_PIPELINING. Prints `listening on http://host:port`.
const http = require('node:http');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis-8');
const { Redis } = require('ioredis');
const passport = require('passport');

const host = process.env.HOST ?? '127.0.0.1';

async function main() {
  // The same client behaviour as the example app (a), whose ioredis client auto-pipelines: batching the
  // commands of concurrent requests into one write is an ioredis option any app can turn on, not
  // something the library under test does. BENCH_AUTO_PIPELINING=0 measures the plain client.
  const redis = new Redis(process.env.REDIS_URL, {
    enableAutoPipelining: process.env.BENCH_AUTO_PIPELINING !== '0',
  });
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user, done) => done(null, user));

  const app = express();
  app.use(
    session({
      secret: process.env.SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
      store: new RedisStore({ client: redis, prefix: 'bare:sess:' }),
    }),
  );
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/login', (req, res, next) => {
    const id = typeof req.query.id === 'string' ? req.query.id : '1';
    req.login({ id, nickname: `Bench ${id}` }, (err) => (err ? next(err) : res.redirect('/')));
  });
  app.get('/me', (req, res) => {
    if (!req.user) {
      res.status(401).json({ error: 'unauthenticated' });
      return;
    }
    res.json({ id: req.user.id, nickname: req.user.nickname });
  });

  const server = http.createServer(app);
  await new Promise((resolve) => server.listen(Number(process.env.PORT ?? 0), host, resolve));
  console.log(`listening on http://${host}:${server.address().port}`);
  const stop = () => {
    server.close();
    server.closeAllConnections();
    redis.quit().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`bare app failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
