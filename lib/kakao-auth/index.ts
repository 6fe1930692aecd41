/**
 * kakaoAuth(): drop-in routes for Kakao Login, built from the modules beside this one. Everything that
 * can be computed once is computed here; the per-request path is one property read.
 */
import { randomUUID } from 'node:crypto';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { Store as SessionStore } from 'express-session';
import { Passport } from 'passport';
import { configError, parseScopes } from '../config';
import { isKakaoError } from '../errors';
import { redisClientKind, type RedisClientLike, type RedisConnection } from '../stores/redis-client';
import type { KakaoStrategy } from '../strategy';
import { MANAGE, type KakaoVerifyFunctionWithRequest } from '../strategy-types';
import { TokenVault, type KakaoTokens } from '../tokens';
import { accessTokens } from './access-tokens';
import { accountSessions } from './account-sessions';
import { codeForStatus, defaultRenderError, logRouteError, statusForError } from './errors';
import { mountLoginRoutes, startLogin, type RouteHelpers } from './login-routes';
import { mountLogoutRoutes } from './logout-routes';
import { resolveAuthOptions, type KakaoAuthOptions, type ResolvedAuthOptions } from './options';
import { guardStore, sessionStoreRedis } from './session-guard';
import { destroySession, restoreSessionUser } from './session-user';
import { registerRouter, sessionStoreKind } from './startup';

/** Options of {@link KakaoAuthRouter.guardSessionStore}. */
export interface GuardSessionStoreOptions {
  /**
   * The Redis client behind the store, when the store does not expose it (connect-redis 7 and 8 keep
   * a wrapper; connect-redis 9 is found by itself). With it, the guard folds express-session's touch
   * into the read (one Redis command per authenticated request) and the login start knows when the
   * session store is down.
   */
  client?: RedisClientLike;
}

/** The router returned by {@link kakaoAuth}, with helpers for the app's own routes. */
export interface KakaoAuthRouter extends Router {
  readonly strategy: KakaoStrategy;
  /**
   * A valid Kakao access token for the logged-in user of `req`, refreshed when needed.
   * @throws ReauthRequiredError when the user must log in again (the login is then ended).
   */
  getAccessToken(req: Request): Promise<string>;
  /**
   * Runs `call` with the user's access token; when Kakao answers -401, refreshes once and runs it
   * again. Concurrent callers share one refresh.
   * @throws ReauthRequiredError when the user must log in again (the login is then ended).
   */
  withAccessToken<T>(req: Request, call: (accessToken: string) => Promise<T>): Promise<T>;
  /** The stored tokens of the logged-in user of `req`, or undefined. */
  getTokens(req: Request): Promise<KakaoTokens | undefined>;
  /** With `offlineAccess: true`: a valid access token of a user who may be away. */
  getOfflineAccessToken(userId: string): Promise<string>;
  /** With `offlineAccess: true`: as {@link KakaoAuthRouter.withAccessToken}, by user id. */
  withOfflineAccessToken<T>(userId: string, call: (accessToken: string) => Promise<T>): Promise<T>;
  /**
   * Wraps the store you give express-session, so that a session ended by logout, unlink or the
   * webhook cannot be written back by a request that loaded it earlier. Returns a new store (yours is
   * not changed): `session({ store: auth.guardSessionStore(new RedisStore({ client })) })`.
   */
  guardSessionStore(store: SessionStore, options?: GuardSessionStoreOptions): SessionStore;
  /**
   * A route handler that starts a login asking for more consent items (Kakao's "additional consent"),
   * e.g. the ones `profile.missingConsents` lists: `app.get('/consent/email', auth.requestConsent(['account_email']))`.
   * Request input never widens the items.
   */
  requestConsent(scope: string | readonly string[], options?: { returnTo?: string }): RequestHandler;
}

/**
 * Drop-in routes for Kakao Login: `GET /auth/kakao` (start), `GET <callbackURL path>` (callback),
 * `POST /logout`, `POST /unlink` and, with `adminKey` and `appId`, the unlink webhook. Mount it after
 * express-session. It restores `req.user` for Kakao logins on every request and leaves sessions of your
 * other Passport strategies alone.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import session from 'express-session';
 * const app = express();
 * const auth = kakaoAuth({ clientID: process.env.KAKAO_CLIENT_ID!, callbackURL: 'http://localhost:3000/auth/kakao/callback' });
 * app.use(session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
 * app.use(auth);
 * ```
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) for a configuration mistake, with the fix in the message.
 */
export function kakaoAuth(options: KakaoAuthOptions): KakaoAuthRouter {
  const o: ResolvedAuthOptions = resolveAuthOptions(options, (toUser, now) => {
    const verify: KakaoVerifyFunctionWithRequest = (
      req,
      _accessToken,
      _refreshToken,
      _tokens,
      profile,
      done,
    ) => {
      Promise.resolve(toUser(profile, req)).then(
        (user) => done(null, user ? { ...user, authTime: now() } : false),
        (err: unknown) => done(err),
      );
    };
    return verify;
  });
  const { logger, strategy } = o;
  const renderError = o.renderError ?? defaultRenderError;
  const vault = new TokenVault({
    store: o.tokenStore,
    markers: o.markers,
    cipher: o.tokenCipher,
    client: strategy.client,
    now: o.now,
    logger,
  });
  const sessions = accountSessions({
    sessionKey: o.sessionKey,
    maxSessionAgeMs: o.maxSessionAgeMs,
    offlineAccess: o.offlineAccess,
    cookieName: o.s.sessionCookieName,
    vault,
    tokenStore: o.tokenStore,
    markers: o.markers,
    logger,
    now: o.now,
  });
  const tokens = accessTokens({ vault, sessions, logger, offlineAccess: o.offlineAccess });
  let guarded: (SessionStore & { readonly redis: RedisConnection | undefined }) | undefined;

  // A private Passport instance: the app's global passport setup is not touched.
  const passport = new Passport();
  passport.use(strategy);

  const helpers: RouteHelpers = {
    logger,
    fail(req, res, status, code, err) {
      const requestId = randomUUID();
      logRouteError(logger, req, status, code, err, requestId);
      if (status === 503) res.set('Retry-After', '5');
      renderError(req, res, { status, code, requestId });
    },
    failWithError(req, res, err) {
      const status = statusForError(err);
      if (status === 500) {
        logger({
          level: 'error',
          event: 'unexpected_error',
          reason: isKakaoError(err) ? err.code : 'unexpected',
          ip: req.ip,
        });
      }
      helpers.fail(req, res, status, codeForStatus(status), err);
    },
  };

  strategy[MANAGE]({
    transactionCipher: o.transactionCipher,
    stateStore: o.markers,
    ready: () =>
      (o.tokenStore.isReady?.() ?? true) &&
      (o.markers.isReady?.() ?? true) &&
      (guarded?.redis?.isReady() ?? true),
  });

  const routes = express.Router({ caseSensitive: true, strict: true });
  mountLoginRoutes(routes, { o, passport, vault, sessions, helpers, sessionStore: () => guarded });
  const logoutPaths = mountLogoutRoutes(routes, {
    o,
    vault,
    sessions,
    tokens,
    helpers,
    stateCipher: o.tokenCipher.derive('account-logout'),
    sessionStore: () => guarded,
  });
  const ownPaths = new Set([o.loginPath, o.callbackPath, ...logoutPaths]);

  const restore = restoreSessionUser({
    sessionKey: o.sessionKey,
    maxSessionAgeMs: o.maxSessionAgeMs,
    now: o.now,
    onExpired: async (req, user) => {
      logger({
        level: 'info',
        event: 'session_ended',
        reason: 'max_age',
        ...(typeof user?.id === 'string' && { userId: user.id }),
        ip: req.ip,
      });
      await sessions.endThis(req, undefined).catch(() => destroySession(req).catch(() => undefined));
    },
  });
  const router = express.Router() as unknown as KakaoAuthRouter;
  router.use(function kakaoAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    restore(req, res, (err?: unknown) => {
      if (err) next(err);
      else if (ownPaths.has(req.path)) routes(req, res, next);
      else next();
    });
  });

  registerRouter(router, () => ({
    callbackURL: o.s.callbackURL,
    sessionStore: sessionStoreKind(guarded) ?? 'other',
    tokenStore: o.evidence.memoryStore ? 'memory' : o.tokenStore.markers ? 'redis' : 'other',
    scopes: o.s.scope,
    generatedSecrets: o.evidence.generatedKey,
  }));
  Object.defineProperties(router, {
    strategy: { value: strategy, enumerable: true },
    getTokens: { value: tokens.getTokens },
    getAccessToken: { value: tokens.getAccessToken },
    withAccessToken: { value: tokens.withAccessToken },
    getOfflineAccessToken: { value: tokens.getOfflineAccessToken },
    withOfflineAccessToken: { value: tokens.withOfflineAccessToken },
    guardSessionStore: {
      value: (store: SessionStore, options?: GuardSessionStoreOptions) => {
        if (
          typeof store !== 'object' ||
          store === null ||
          typeof store.set !== 'function' ||
          typeof store.get !== 'function'
        ) {
          throw configError(
            'kakaoAuth.guardSessionStore: pass the express-session store, e.g. new RedisStore({ client }).',
          );
        }
        const own = (store as { client?: unknown }).client;
        if (redisClientKind(own)?.startsWith('ioredis')) {
          // connect-redis 7 and 8 keep a wrapper; a raw ioredis client means connect-redis 9 or later,
          // which speaks node-redis only: every session write would fail with "ERR syntax error".
          throw configError(
            'kakaoAuth.guardSessionStore: this connect-redis store holds an ioredis client, but connect-redis 9 and later speak node-redis only (every session write would fail). Use connect-redis 8 with ioredis (npm install connect-redis@8), or a node-redis client (createClient from "redis") with connect-redis 9.',
          );
        }
        if (options?.client !== undefined && !redisClientKind(options.client)) {
          throw configError(
            'kakaoAuth.guardSessionStore: "client" must be the ioredis or node-redis client the store uses.',
          );
        }
        guarded = guardStore(store, {
          markers: o.markers,
          sessionKey: o.sessionKey,
          redis: sessionStoreRedis(store, options?.client),
          onDestroyed: (user, sessionId) => sessions.endDestroyed(user, sessionId),
        });
        return guarded;
      },
    },
    requestConsent: {
      value: (
        scope: string | readonly string[],
        consentOptions: { returnTo?: string } = {},
      ): RequestHandler => {
        const items = parseScopes('kakaoAuth.requestConsent', scope);
        if (items.length === 0)
          throw configError(
            'kakaoAuth.requestConsent: name at least one consent item, e.g. ["account_email"].',
          );
        return function kakaoRequestConsent(req, res, next) {
          startLogin({ passport, helpers }, req, res, next, { scope: items, ...consentOptions });
        };
      },
    },
  });
  return router;
}

export type { KakaoAuthOptions };
