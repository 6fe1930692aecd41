/**
 * kakaoAuth next to another Passport strategy on the app's global `passport` (issue 11.3): an app built
 * here, not the example app, the way a user's app is built: express-session on connect-redis (a real
 * redis-server), `passport.session()` with passport-local, and kakaoAuth on the same Redis client.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis-8';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import supertest from 'supertest';
import {
  RedisTokenStore,
  createTokenCipher,
  generateKeyRing,
  kakaoAuth,
  type KakaoLogEvent,
} from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { jarCookie, sessionIdOf } from '../helpers/cookies';
import { authorizeAtEmulator } from '../helpers/harness';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';
import { hasLogin } from '../helpers/user-logins';

const KAKAO_USER = '4120937465';
const LOCAL_USERS: Record<string, { password: string; name: string }> = {
  alice: { password: 'wonderland', name: 'Alice' },
};
const SESSION_PREFIX = 'coex:sess:';
const HOUR = 3600_000;

interface LocalUser {
  username: string;
  name: string;
}

// The app's own Passport setup, as an app with e-mail/password login has it.
passport.use(
  new LocalStrategy((username, password, done) => {
    const found = Object.hasOwn(LOCAL_USERS, username) ? LOCAL_USERS[username] : undefined;
    done(null, found && found.password === password ? { username, name: found.name } : false);
  }),
);
passport.serializeUser((user, done) => done(null, (user as unknown as LocalUser).username));
passport.deserializeUser((username: string, done) => {
  const found = Object.hasOwn(LOCAL_USERS, username) ? LOCAL_USERS[username] : undefined;
  done(null, found ? ({ username, name: found.name } as unknown as Express.User) : false);
});

describe('kakaoAuth beside passport-local on the global passport', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let inspector: Redis;
  let emulator: KakaoEmulator;
  let server: http.Server;
  let url: string;
  let clockOffset = 0;
  const events: KakaoLogEvent[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 800,
    });
    inspector = new Redis(redis.url);
    await Promise.all([client, inspector].map((c) => new Promise((resolve) => c.once('ready', resolve))));
    emulator = await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false });
    server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const app = express();
    const auth = kakaoAuth({
      clientID: emulator.clientID,
      authOrigin: emulator.authOrigin,
      apiOrigin: emulator.apiOrigin,
      callbackURL: `${url}/auth/kakao/callback`,
      tokenStore: new RedisTokenStore({ client, prefix: 'coex:' }),
      tokenCipher: createTokenCipher({ keys: generateKeyRing() }),
      logger: (event) => events.push(event),
      now: () => Date.now() + clockOffset,
    });
    app.use(express.urlencoded({ extended: false }));
    app.use(
      session({
        secret: 'coexistence-test-session-secret',
        resave: false,
        saveUninitialized: false,
        store: auth.guardSessionStore(new RedisStore({ client, prefix: SESSION_PREFIX, ttl: 1800 })),
        cookie: { httpOnly: true, sameSite: 'lax' },
      }),
    );
    app.use(passport.initialize());
    app.use(passport.session());
    app.use(auth);
    app.post(
      '/login/local',
      passport.authenticate('local', { failureRedirect: '/?local_error=1' }),
      (_req, res) => {
        res.redirect(302, '/');
      },
    );
    app.post('/logout/local', (req: Request, res: Response, next: NextFunction) => {
      req.logout((err) => (err ? next(err) : res.redirect(302, '/')));
    });
    app.get('/whoami', (req: Request, res: Response) => {
      const user = req.user as Record<string, unknown> | undefined;
      res.json({
        authenticated: req.isAuthenticated(),
        kind: user === undefined ? 'none' : 'username' in user ? 'local' : 'kakao',
        id: user ? (user.username ?? user.id) : null,
      });
    });
    app.get('/', (_req, res) => {
      res.send('home');
    });
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).json({ error: String((err as Error)?.message ?? err) });
    });
    server.on('request', app);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      server?.closeAllConnections();
    });
    await emulator?.close();
    client?.disconnect();
    inspector?.disconnect();
    await redis?.kill();
  });

  beforeEach(() => {
    clockOffset = 0;
  });

  const browser = () => supertest.agent(url);

  async function localLogin(agent: supertest.Agent): Promise<supertest.Response> {
    return agent
      .post('/login/local')
      .type('form')
      .send({ username: 'alice', password: 'wonderland' })
      .redirects(0);
  }

  async function kakaoLogin(agent: supertest.Agent, userId = KAKAO_USER): Promise<supertest.Response> {
    const start = await agent.get('/auth/kakao').redirects(0);
    expect(start.status).toBe(302);
    const callback = await authorizeAtEmulator(start.headers.location!, userId);
    return agent.get(callback.pathname + callback.search).redirects(0);
  }

  async function whoami(
    agent: supertest.Agent,
  ): Promise<{ authenticated: boolean; kind: string; id: string | null }> {
    const res = await agent.get('/whoami');
    expect(res.status).toBe(200);
    return res.body;
  }

  function sessionId(agent: supertest.Agent): string {
    return sessionIdOf(jarCookie(agent, 'connect.sid')!);
  }

  async function storedSession(sid: string): Promise<Record<string, unknown> | null> {
    const text = await inspector.get(`${SESSION_PREFIX}${sid}`);
    return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  }

  test('a local login stays logged in across requests: kakaoAuth neither regenerates nor writes its session', async () => {
    const agent = browser();
    const login = await localLogin(agent);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/');
    const sid = sessionId(agent);
    const stored = await inspector.getBuffer(`${SESSION_PREFIX}${sid}`);
    expect(JSON.parse(stored!.toString())).toMatchObject({ passport: { user: 'alice' } });
    for (let i = 0; i < 5; i++) {
      const res = await agent.get('/whoami');
      expect(res.body).toEqual({ authenticated: true, kind: 'local', id: 'alice' });
      // No new session cookie: the session was not regenerated.
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(sessionId(agent)).toBe(sid);
    expect((await inspector.getBuffer(`${SESSION_PREFIX}${sid}`))!.equals(stored!)).toBe(true);
    expect(events.filter((e) => e.event === 'session_ended')).toEqual([]);
  });

  test('kakaoAuth applies no lifetime check to a local login (while a Kakao login past 12 h ends)', async () => {
    const local = browser();
    await localLogin(local);
    const kakao = browser();
    expect((await kakaoLogin(kakao)).headers.location).toBe('/');
    clockOffset = 13 * HOUR;
    expect(await whoami(local)).toEqual({ authenticated: true, kind: 'local', id: 'alice' });
    expect(await whoami(kakao)).toEqual({ authenticated: false, kind: 'none', id: null });
    expect(await whoami(local)).toEqual({ authenticated: true, kind: 'local', id: 'alice' });
  });

  test('req.user is the Kakao user after a Kakao login, kept under its own session key', async () => {
    const agent = browser();
    expect((await kakaoLogin(agent)).headers.location).toBe('/');
    expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'kakao', id: KAKAO_USER });
    const stored = await storedSession(sessionId(agent));
    expect(stored).toMatchObject({ kakao: { id: KAKAO_USER } });
    expect(stored).not.toHaveProperty('passport');
    // Still logged in on the next requests, with the same session.
    const sid = sessionId(agent);
    expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'kakao', id: KAKAO_USER });
    expect(sessionId(agent)).toBe(sid);
  });

  test('a Kakao login replaces a local login cleanly: new session id, no passport.user left, the old session gone', async () => {
    const agent = browser();
    await localLogin(agent);
    const localSid = sessionId(agent);
    const localCookie = jarCookie(agent, 'connect.sid')!;
    expect(await whoami(agent)).toMatchObject({ kind: 'local' });
    expect((await kakaoLogin(agent)).headers.location).toBe('/');
    const kakaoSid = sessionId(agent);
    expect(kakaoSid).not.toBe(localSid);
    expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'kakao', id: KAKAO_USER });
    const stored = await storedSession(kakaoSid);
    expect(stored).toMatchObject({ kakao: { id: KAKAO_USER } });
    expect((stored?.passport as { user?: unknown } | undefined)?.user).toBeUndefined();
    expect(await storedSession(localSid)).toBeNull();
    // The old cookie logs nobody in.
    const stale = await supertest(url).get('/whoami').set('Cookie', `connect.sid=${localCookie}`);
    expect(stale.body).toEqual({ authenticated: false, kind: 'none', id: null });
  });

  test('a local login replaces a Kakao login cleanly: new session id, no kakao key left, the old session gone', async () => {
    const agent = browser();
    expect((await kakaoLogin(agent)).headers.location).toBe('/');
    const kakaoSid = sessionId(agent);
    await localLogin(agent);
    const localSid = sessionId(agent);
    expect(localSid).not.toBe(kakaoSid);
    expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'local', id: 'alice' });
    const stored = await storedSession(localSid);
    expect(stored).toMatchObject({ passport: { user: 'alice' } });
    expect(stored).not.toHaveProperty('kakao');
    expect(await storedSession(kakaoSid)).toBeNull();
  });

  test('a local login that replaces a Kakao login also removes that login’s Kakao tokens', async () => {
    const userId = '1376016924429759228';
    const agent = browser();
    expect((await kakaoLogin(agent, userId)).headers.location).toBe('/');
    const kakaoSid = sessionId(agent);
    expect(await hasLogin(inspector, `coex:u:{${userId}}`, kakaoSid)).toBe(1);
    await localLogin(agent);
    expect(await whoami(agent)).toMatchObject({ kind: 'local' });
    // The contract: a new login in the same browser removes the previous login's token record.
    expect(await hasLogin(inspector, `coex:u:{${userId}}`, kakaoSid)).toBe(0);
  });

  test('after a Kakao logout, a local login works and stays logged in', async () => {
    const agent = browser();
    expect((await kakaoLogin(agent)).headers.location).toBe('/');
    const logout = await agent.post('/logout').set('Origin', url).redirects(0);
    expect(logout.status).toBe(302);
    expect(await whoami(agent)).toMatchObject({ authenticated: false });
    expect((await localLogin(agent)).headers.location).toBe('/');
    for (let i = 0; i < 3; i++)
      expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'local', id: 'alice' });
  });

  test('after a local logout, a Kakao login works and stays logged in', async () => {
    const agent = browser();
    await localLogin(agent);
    expect((await agent.post('/logout/local').redirects(0)).status).toBe(302);
    expect(await whoami(agent)).toMatchObject({ authenticated: false });
    expect((await kakaoLogin(agent)).headers.location).toBe('/');
    for (let i = 0; i < 3; i++)
      expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'kakao', id: KAKAO_USER });
  });

  test('a local user who starts a Kakao login and cancels stays logged in locally', async () => {
    const agent = browser();
    await localLogin(agent);
    const sid = sessionId(agent);
    const start = await agent.get('/auth/kakao').redirects(0);
    const state = new URL(start.headers.location!).searchParams.get('state')!;
    const res = await agent.get(`/auth/kakao/callback?error=access_denied&state=${state}`).redirects(0);
    expect(res.headers.location).toBe('/?login_error=access_denied');
    expect(await whoami(agent)).toEqual({ authenticated: true, kind: 'local', id: 'alice' });
    expect(sessionId(agent)).toBe(sid);
  });
});
