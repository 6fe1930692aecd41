/**
 * A minimal app around kakaoAuth for tests that need what the example app does not offer: an injected
 * clock shared with the stores, a cookie `maxAge`, or routes of their own (a slow request that writes
 * the session). Real sockets, the real emulator, real stores.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import session, { type Store } from 'express-session';
import supertest from 'supertest';
import {
  type RedisClientLike,
  createTokenCipher,
  kakaoAuth,
  type KakaoAuthRouter,
  type KakaoLogEvent,
  type TokenStore,
} from 'kakao-login-express';
import type { KakaoEmulator } from 'kakao-login-express/testing';
import { authorizeAtEmulator } from './harness';

export interface MiniApp {
  url: string;
  auth: KakaoAuthRouter;
  events: KakaoLogEvent[];
  agent(): supertest.Agent;
  close(): Promise<void>;
}

export async function startMiniApp(options: {
  emulator: KakaoEmulator;
  tokenStore: TokenStore;
  /** The express-session store, before guarding (kakaoAuth's guard wraps it). Default MemoryStore. */
  sessionStore?: Store;
  /** The Redis client behind `sessionStore` (connect-redis 8 does not expose it). */
  sessionClient?: RedisClientLike;
  now?: () => number;
  cookieMaxAgeMs?: number;
  /** Routes added after kakaoAuth. */
  routes?: (app: Express, auth: KakaoAuthRouter) => void;
}): Promise<MiniApp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const events: KakaoLogEvent[] = [];
  const { emulator } = options;
  const auth = kakaoAuth({
    clientID: emulator.clientID,
    ...(emulator.clientSecret !== undefined && { clientSecret: emulator.clientSecret }),
    authOrigin: emulator.authOrigin,
    apiOrigin: emulator.apiOrigin,
    callbackURL: `${url}/auth/kakao/callback`,
    adminKey: emulator.adminKey,
    appId: String(emulator.appId),
    tokenStore: options.tokenStore,
    tokenCipher: createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] }),
    logger: (event) => events.push(event),
    ...(options.now && { now: options.now }),
  });
  const app = express();
  app.use(
    session({
      name: 'mini.sid',
      secret: 'mini-app-session-secret-0123456789',
      resave: false,
      saveUninitialized: false,
      store: auth.guardSessionStore(
        options.sessionStore ?? new session.MemoryStore(),
        options.sessionClient ? { client: options.sessionClient } : {},
      ),
      cookie: {
        httpOnly: true,
        sameSite: 'lax',
        path: '/',
        ...(options.cookieMaxAgeMs !== undefined && { maxAge: options.cookieMaxAgeMs }),
      },
    }),
  );
  app.use(auth);
  app.get('/me', (req, res) => {
    if (!req.user) res.status(401).json({ error: 'unauthenticated' });
    else res.json({ id: (req.user as { id: string }).id });
  });
  options.routes?.(app, auth);
  server.on('request', app);
  return {
    url,
    auth,
    events,
    agent: () => supertest.agent(url),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Logs `agent` in as `userId` through the app and the emulator; returns the callback's response. */
export async function loginMini(
  app: MiniApp,
  agent: supertest.Agent,
  userId: string,
): Promise<supertest.Response> {
  const start = await agent.get('/auth/kakao').redirects(0);
  if (start.status !== 302) throw new Error(`login start answered ${start.status}`);
  const callback = await authorizeAtEmulator(start.headers.location!, userId);
  const done = await agent.get(callback.pathname + callback.search).redirects(0);
  if (done.status !== 302 || done.headers.location !== '/') {
    throw new Error(`login callback answered ${done.status} ${String(done.headers.location)}`);
  }
  return done;
}

/** The express-session id in a response's signed cookie `<name>=s:<id>.<signature>`. */
export function sessionIdOf(res: supertest.Response, name: string): string {
  const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(`${name}=`))!;
  const value = decodeURIComponent(cookie.split(';')[0]!.slice(name.length + 1));
  return value.slice(2, value.lastIndexOf('.'));
}
