import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Store as SessionStore } from 'express-session';
import { Passport, type AuthenticateOptions } from 'passport';
import {
  checkOptionNames,
  configError,
  requireAbsoluteUrl,
  requirePositiveInt,
  requireString,
} from './config';
import {
  KakaoApiError,
  KakaoResponseError,
  KakaoSessionError,
  KakaoTokenError,
  ReauthRequiredError,
  TokenStoreError,
  isKakaoError,
} from './errors';
import type { KakaoTokenResponse } from './kakao-types';
import { consoleLogger, type KakaoLogger } from './logger';
import { isSameOriginPost } from './origin-check';
import { randomToken, safeEqual } from './pkce';
import type { KakaoProfile } from './profile';
import { createRateLimiter } from './rate-limit';
import { sanitizeReturnTo, DEFAULT_RESERVED_PREFIXES } from './return-to';
import {
  KakaoStrategy,
  STRATEGY_OPTION_NAMES,
  type KakaoLoginFailure,
  type KakaoStrategyOptionsBase,
  type KakaoTokenSet,
} from './strategy';
import { createTokenCipher, generateKeyRing, type TokenCipher } from './token-cipher';
import { MemoryTokenStore, type TokenRecordKey, type TokenStore } from './token-store';
import { TokenVault, type KakaoTokens } from './tokens';
import { isTransactionBag } from './transactions';
import { createUnlinkWebhookHandler, type UnlinkEvent } from './unlink-webhook';

/** What kakaoAuth keeps in the session for a logged-in user: what pages need, nothing secret. */
export interface KakaoSessionUser {
  /** Kakao user id (exact decimal string). */
  id: string;
  /** OpenID Connect mode: the ID token's issuer; the user is (`issuer`, `id`). */
  issuer?: string;
  nickname?: string;
  /** Profile image URL. */
  image?: string;
  /** Present only when Kakao says the address is valid and verified. */
  email?: string;
  emailVerified?: boolean;
  /** Epoch ms of the login, for the absolute session lifetime. */
  authTime: number;
}

/** Options of {@link kakaoAuth}: the strategy's options plus the routes'. */
export interface KakaoAuthOptions extends Partial<KakaoStrategyOptionsBase> {
  /** A ready strategy; when given, the strategy options must be unset. */
  strategy?: KakaoStrategy;
  /** Login start path. Default `/auth/kakao`. The callback path is the path of `callbackURL`. */
  loginPath?: string;
  /** Logout path (POST only). Default `/logout`. */
  logoutPath?: string;
  /** Where failed logins go, with `?login_error=<code>` appended. Default `/`. */
  failureRedirect?: string;
  /** Where logout goes. Default `/`. */
  logoutRedirect?: string;
  /** Where sealed tokens live. Default: an in-memory store (development only). */
  tokenStore?: TokenStore;
  /** Seals tokens. Default: a random key per process (development only). */
  tokenCipher?: TokenCipher;
  /** Maps the Kakao profile to the session user; return `false` to refuse the login. Default: id, nickname, image, verified email. */
  toUser?: (
    profile: KakaoProfile,
    req: Request,
  ) => Omit<KakaoSessionUser, 'authTime'> | false | Promise<Omit<KakaoSessionUser, 'authTime'> | false>;
  /** Absolute session lifetime in ms, whatever the activity. Default 12 h. */
  maxSessionAgeMs?: number;
  /** Unfinished login starts allowed per client IP and minute (a successful login gives its start back); `false` turns the limit off. Default 300. */
  loginRateLimitPerMinute?: number | false;
  /** Renders error pages (502/503/504/429/405/403). Default: a minimal HTML page with a correlation id. */
  renderError?: (req: Request, res: Response, error: KakaoRouteError) => void;
  /**
   * The "Logout Redirect URI" registered in the Kakao console (absolute). When set, `POST /logout?kakaoAccount=1`
   * also ends the Kakao browser session through Kakao's account logout page, which returns to this
   * URL (mounted as a GET route, state checked). Default: unset (feature off).
   */
  kakaoAccountLogoutRedirectURL?: string;
  /** User-initiated unlink (POST, same-origin): revokes the app's Kakao link and ends all the user's sessions. Default `/unlink`; `false` to turn off. */
  unlinkPath?: string | false;
  /** The admin key (Kakao console → App keys). With `appId`, mounts the unlink webhook. Server-side only. */
  adminKey?: string;
  /** The numeric app id, checked on the unlink webhook. */
  appId?: string;
  /** Path of the unlink webhook (register it in the console). Default `/webhooks/kakao/unlink`. */
  webhookPath?: string;
  /** Called after the webhook removed a user's tokens and sessions, to delete the app's own data. */
  onUnlink?: (event: UnlinkEvent) => Promise<void>;
}

/** An error answer of the routes, as handed to `renderError`. */
export interface KakaoRouteError {
  status: number;
  /** Short code, e.g. `kakao_unavailable`, `session_unavailable`, `forbidden_origin`. */
  code: string;
  /** Correlation id, also in the log line. */
  requestId: string;
}

/** The router returned by {@link kakaoAuth}, with helpers for the app's own routes. */
export interface KakaoAuthRouter extends Router {
  readonly strategy: KakaoStrategy;
  readonly vault: TokenVault;
  /**
   * A valid Kakao access token for the logged-in user of `req`, refreshed when needed.
   * @throws ReauthRequiredError when the user must log in again (the session is then ended).
   */
  getAccessToken(req: Request): Promise<string>;
  /**
   * Runs `call` with the user's access token; when Kakao answers -401 (token expired or revoked
   * early), refreshes once and runs it again. Concurrent callers share one refresh.
   * @throws ReauthRequiredError when the user must log in again (the session is then ended).
   */
  withAccessToken<T>(req: Request, call: (accessToken: string) => Promise<T>): Promise<T>;
  /**
   * Makes the session store refuse to write back a logged-in session that logout, unlink or the
   * unlink webhook has ended (a request that loaded it earlier would otherwise resurrect it).
   * Call it with the store you give express-session; returns the same store.
   */
  guardSessionStore<S extends SessionStore>(store: S): S;
  /** The stored tokens of the logged-in user of `req`, or undefined. */
  getTokens(req: Request): Promise<KakaoTokens | undefined>;
}

const STRATEGY_OPTIONS = STRATEGY_OPTION_NAMES.filter((name) => name !== 'passReqToCallback');
const ROUTE_OPTIONS = [
  'strategy',
  'loginPath',
  'logoutPath',
  'failureRedirect',
  'logoutRedirect',
  'tokenStore',
  'tokenCipher',
  'toUser',
  'maxSessionAgeMs',
  'loginRateLimitPerMinute',
  'renderError',
  'kakaoAccountLogoutRedirectURL',
  'unlinkPath',
  'adminKey',
  'appId',
  'webhookPath',
  'onUnlink',
] as const;

const LOGOUT_STATE_KEY = 'kakaoLogoutState';
/** Marks the request whose session write is the login itself (see guardSessionStore). */
const FRESH_LOGIN = Symbol('kakao-login-express.freshLogin');

const WHAT = 'kakaoAuth';

/** Auth responses are never cached and never leak the URL (codes, states) through Referer. */
function privateResponse(res: Response): void {
  res.set('Cache-Control', 'no-store');
  res.set('Referrer-Policy', 'no-referrer');
}

/** HTTP status for an error raised during a Kakao flow. */
export function statusForError(err: unknown): number {
  if (err instanceof KakaoResponseError) return err.reason === 'timeout' ? 504 : 502;
  if (err instanceof KakaoTokenError || err instanceof KakaoApiError) return 502;
  if (err instanceof KakaoSessionError || err instanceof TokenStoreError) return 503;
  if (err instanceof ReauthRequiredError) return 401;
  return 500;
}

function codeForStatus(status: number): string {
  switch (status) {
    case 502:
      return 'kakao_error';
    case 503:
      return 'service_unavailable';
    case 504:
      return 'kakao_timeout';
    default:
      return 'internal_error';
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The default error page: status, a fixed sentence and the correlation id; nothing from the provider. */
export function defaultRenderError(_req: Request, res: Response, error: KakaoRouteError): void {
  res
    .status(error.status)
    .type('html')
    .send(
      `<!doctype html><meta charset="utf-8"><title>${error.status}</title>` +
        `<h1>Login problem (${error.status})</h1><p>Something went wrong (${escapeHtml(error.code)}). ` +
        `Please try again later.</p><p><small>Reference: ${escapeHtml(error.requestId)}</small></p>`,
    );
}

function defaultToUser(profile: KakaoProfile): Omit<KakaoSessionUser, 'authTime'> {
  return {
    id: profile.id,
    ...(profile.issuer !== undefined && { issuer: profile.issuer }),
    ...(profile.nickname !== undefined && { nickname: profile.nickname }),
    ...(profile.image !== undefined && { image: profile.image }),
    ...(profile.email !== undefined &&
      profile.emailVerified === true && { email: profile.email, emailVerified: true }),
  };
}

function requirePath(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  const path = requireString(WHAT, name, value, 'a path such as /auth/kakao');
  if (!path.startsWith('/') || path.startsWith('//')) {
    throw configError(`${WHAT}: "${name}" must be a path starting with one "/" (got "${path}").`);
  }
  return path;
}

/**
 * Drop-in routes for Kakao Login: `GET /auth/kakao` (start), `GET <callbackURL path>` (callback),
 * `POST /logout`. Mount after express-session: `app.use(session({...})); app.use(kakaoAuth({...}))`.
 * The router also restores `req.user` from the session on every request.
 *
 * @example
 * ```ts
 * app.use(session({ secret, resave: false, saveUninitialized: false }));
 * app.use(kakaoAuth({ clientID: process.env.KAKAO_CLIENT_ID!, callbackURL: 'https://app.example/auth/kakao/callback' }));
 * ```
 * @throws TypeError (code `ERR_INVALID_ARG_VALUE`) for a configuration mistake, with the fix in the message.
 */
export function kakaoAuth(options: KakaoAuthOptions): KakaoAuthRouter {
  if (typeof options !== 'object' || options === null) {
    throw configError(`${WHAT}: options are required: kakaoAuth({ clientID, callbackURL }).`);
  }
  checkOptionNames(WHAT, options, [...STRATEGY_OPTIONS, ...ROUTE_OPTIONS]);
  const logger: KakaoLogger = options.logger ?? consoleLogger;
  const now = options.now ?? Date.now;

  let strategy: KakaoStrategy;
  if (options.strategy) {
    if (!(options.strategy instanceof KakaoStrategy))
      throw configError(`${WHAT}: "strategy" must be a KakaoStrategy.`);
    for (const name of STRATEGY_OPTIONS) {
      if (options[name] !== undefined && name !== 'logger' && name !== 'now') {
        throw configError(
          `${WHAT}: "${name}" cannot be combined with "strategy"; configure the strategy instead.`,
        );
      }
    }
    strategy = options.strategy;
  } else {
    const strategyOptions: Record<string, unknown> = { logger, passReqToCallback: true };
    for (const name of STRATEGY_OPTIONS)
      if (options[name] !== undefined) strategyOptions[name] = options[name];
    strategy = new KakaoStrategy(
      strategyOptions as unknown as ConstructorParameters<typeof KakaoStrategy>[0] & {
        passReqToCallback: true;
      },
      function verify(req, _accessToken, _refreshToken, tokens, profile, done) {
        Promise.resolve(toUser(profile, req)).then(
          (user) => (user ? done(null, { ...user, authTime: now() }, { tokens }) : done(null, false)),
          (err: unknown) => done(err),
        );
      },
    );
  }
  const toUser = options.toUser ?? defaultToUser;
  if (typeof toUser !== 'function') throw configError(`${WHAT}: "toUser" must be a function.`);

  const loginPath = requirePath('loginPath', options.loginPath, '/auth/kakao');
  const logoutPath = requirePath('logoutPath', options.logoutPath, '/logout');
  const callbackPath = strategy.callbackPath;
  const failureRedirect = requirePath('failureRedirect', options.failureRedirect, '/');
  const logoutRedirect = requirePath('logoutRedirect', options.logoutRedirect, '/');
  const cookieName = strategy.sessionCookieName;
  const maxSessionAgeMs = requirePositiveInt(WHAT, 'maxSessionAgeMs', options.maxSessionAgeMs, 12 * 3600_000);
  const rateLimit = options.loginRateLimitPerMinute ?? 300;
  // Counts login starts that have not (yet) come back as a successful login: a flood of starts is
  // refused, while any number of completed logins (a busy office behind one IP, a benchmark) is not.
  const pendingLogins =
    rateLimit === false
      ? undefined
      : createRateLimiter({
          max: requirePositiveInt(WHAT, 'loginRateLimitPerMinute', rateLimit, 300),
          windowMs: 60_000,
          now,
        });
  const renderError = options.renderError ?? defaultRenderError;
  const appOrigin = strategy.appOrigin;
  const accountLogout =
    options.kakaoAccountLogoutRedirectURL === undefined
      ? undefined
      : (() => {
          const url = requireAbsoluteUrl(
            WHAT,
            'kakaoAccountLogoutRedirectURL',
            options.kakaoAccountLogoutRedirectURL,
            'registered as a Logout Redirect URI in the Kakao console, e.g. https://app.example/logout/kakao/callback',
          );
          if (new URL(url).origin !== appOrigin) {
            throw configError(
              `${WHAT}: "kakaoAccountLogoutRedirectURL" must be on the app's origin (${appOrigin}).`,
            );
          }
          return { url, path: new URL(url).pathname };
        })();
  const unlinkPath =
    options.unlinkPath === false ? undefined : requirePath('unlinkPath', options.unlinkPath, '/unlink');
  const webhookPath = requirePath('webhookPath', options.webhookPath, '/webhooks/kakao/unlink');
  if ((options.adminKey === undefined) !== (options.appId === undefined)) {
    throw configError(
      `${WHAT}: the unlink webhook needs both "adminKey" and "appId" (Kakao console → App → App keys / App ID); got only one.`,
    );
  }
  const webhook =
    options.adminKey === undefined || options.appId === undefined
      ? undefined
      : {
          adminKey: requireString(WHAT, 'adminKey', options.adminKey, 'the admin key from the Kakao console'),
          appId: requireString(WHAT, 'appId', String(options.appId), 'the numeric app id'),
        };
  const onUnlink = options.onUnlink;
  if (onUnlink !== undefined && typeof onUnlink !== 'function') {
    throw configError(
      `${WHAT}: "onUnlink" must be an async function receiving { userId, appId, referrerType }.`,
    );
  }
  const reservedPrefixes = [
    ...DEFAULT_RESERVED_PREFIXES,
    loginPath,
    callbackPath,
    logoutPath,
    webhookPath,
    ...(unlinkPath ? [unlinkPath] : []),
    ...(accountLogout ? [accountLogout.path] : []),
  ];

  const vault = new TokenVault({
    store: options.tokenStore ?? new MemoryTokenStore({ now }),
    cipher: options.tokenCipher ?? createTokenCipher({ keys: generateKeyRing() }),
    client: strategy.client,
    now,
    logger,
  });

  // A private Passport instance: kakaoAuth does not touch the app's global passport setup.
  const passport = new Passport();
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, user));

  const fail = (req: Request, res: Response, status: number, code: string): void => {
    const requestId = randomUUID();
    logger({
      level: status >= 500 ? 'error' : 'warn',
      event: 'request_failed',
      reason: code,
      ip: req.ip,
      requestId,
    });
    if (status === 503) res.set('Retry-After', '5');
    renderError(req, res, { status, code, requestId });
  };
  const failWithError = (req: Request, res: Response, err: unknown): void => {
    const status = statusForError(err);
    const reason = isKakaoError(err) ? err.code : 'unexpected';
    if (status === 500) logger({ level: 'error', event: 'unexpected_error', reason, ip: req.ip });
    fail(
      req,
      res,
      status,
      status === 503 && err instanceof KakaoSessionError ? 'session_unavailable' : codeForStatus(status),
    );
  };

  // Every request passes through here, so the common case (not one of our paths) costs one
  // property read: the session user is restored directly (no per-request Passport strategy run),
  // and only our own paths reach the route table below.
  const routes = express.Router({ caseSensitive: true, strict: true });
  const ownPaths = new Set<string>();
  const router = express.Router() as KakaoAuthRouter;
  router.use(function kakaoAuthMiddleware(req: Request, res: Response, next: NextFunction) {
    const session = req.session as
      (typeof req.session & { passport?: { user?: KakaoSessionUser } }) | undefined;
    if (!session) {
      next(
        new Error(
          'kakaoAuth needs express-session mounted before it: app.use(session({...})); app.use(kakaoAuth({...})).',
        ),
      );
      return;
    }
    const user = session.passport?.user;
    if (user !== undefined) {
      if (!(typeof user.authTime === 'number' && now() - user.authTime < maxSessionAgeMs)) {
        // Absolute lifetime reached (or a session from an older layout): the login's tokens go
        // and the user logs in again, in a fresh empty session so the rest of the request has one.
        if (typeof user.id === 'string') {
          vault.delete({ userId: user.id, sessionId: req.sessionID }).catch((err: unknown) =>
            logger({
              level: 'warn',
              event: 'token_delete_failed',
              reason: isKakaoError(err) ? err.code : 'unexpected',
            }),
          );
        }
        session.regenerate((err?: unknown) => {
          if (err) next(new KakaoSessionError('The session could not be renewed', { cause: err }));
          else if (ownPaths.has(req.path)) routes(req, res, next);
          else next();
        });
        return;
      }
      req.user = user;
    }
    if (ownPaths.has(req.path)) routes(req, res, next);
    else next();
  });
  routes.use(passport.initialize());

  routes.get(loginPath, function kakaoLoginStart(req: Request, res: Response, next: NextFunction) {
    privateResponse(res);
    if (pendingLogins && !pendingLogins.hit(req.ip ?? 'unknown')) {
      fail(req, res, 429, 'too_many_logins');
      return;
    }
    const returnTo = sanitizeReturnTo(req.query.returnTo, { origin: appOrigin, reservedPrefixes });
    passport.authenticate(
      'kakao',
      { session: false, returnTo, callback: false } as AuthenticateOptions,
      (err: unknown) => {
        if (err) failWithError(req, res, err);
        else next();
      },
    )(req, res, next);
  });

  routes.get(callbackPath, function kakaoCallback(req: Request, res: Response, next: NextFunction) {
    privateResponse(res);
    passport.authenticate(
      'kakao',
      { callback: true } as AuthenticateOptions,
      (
        err: unknown,
        user: KakaoSessionUser | false,
        info: (KakaoLoginFailure & { returnTo?: string; tokens?: KakaoTokenSet }) | undefined,
      ) => {
        if (err) {
          failWithError(req, res, err);
          return;
        }
        if (!user) {
          const code = info?.code ?? 'authorization_failed';
          res.redirect(
            302,
            `${failureRedirect}${failureRedirect.includes('?') ? '&' : '?'}login_error=${encodeURIComponent(code)}`,
          );
          return;
        }
        // The login regenerates the session (no fixation); logins still pending in other tabs
        // are carried over, and nothing else is.
        const pending = (req.session as unknown as Record<string, unknown>)[strategy.sessionKey];
        (req as unknown as Record<symbol, boolean>)[FRESH_LOGIN] = true;
        req.logIn(user, (loginErr?: unknown) => {
          if (!loginErr && isTransactionBag(pending) && Object.keys(pending).length > 0) {
            (req.session as unknown as Record<string, unknown>)[strategy.sessionKey] = pending;
          }
          if (loginErr) {
            failWithError(
              req,
              res,
              new KakaoSessionError('The session could not be saved', { cause: loginErr }),
            );
            return;
          }
          const tokens = info?.tokens as KakaoTokenResponse | undefined;
          const stored = tokens
            ? vault.save({ userId: user.id, sessionId: req.sessionID }, tokens)
            : Promise.resolve();
          pendingLogins?.credit(req.ip ?? 'unknown');
          stored.then(
            () => {
              // Checked again right before use, in case anything else wrote the value.
              res.redirect(302, sanitizeReturnTo(info?.returnTo, { origin: appOrigin, reservedPrefixes }));
            },
            (storeErr: unknown) => {
              req.session.destroy(() => failWithError(req, res, storeErr));
            },
          );
        });
      },
    )(req, res, next);
  });

  routes.all(callbackPath, function kakaoCallbackMethod(req: Request, res: Response) {
    res.set('Allow', 'GET');
    fail(req, res, 405, 'method_not_allowed');
  });

  // A tombstone only has to outlive requests that loaded the session before it ended (a request
  // longer than 10 minutes is not one Express serves); it keeps Redis growth per logout bounded.
  const endedTtlSeconds = 600;
  /** Destroys this request's session (tombstoned when logged in) and expires its cookie. */
  const endThisSession = async (req: Request, res: Response): Promise<void> => {
    const cookie = req.session.cookie;
    if (req.user) await vault.store.markSessionEnded(req.sessionID, endedTtlSeconds);
    return new Promise<void>((resolve, reject) => {
      req.session.destroy((err?: unknown) => {
        if (err) {
          reject(new KakaoSessionError('The session could not be destroyed', { cause: err }));
          return;
        }
        res.clearCookie(cookieName, {
          path: cookie.path ?? '/',
          httpOnly: true,
          ...(cookie.secure !== undefined && { secure: Boolean(cookie.secure) }),
          ...(cookie.sameSite !== undefined && { sameSite: cookie.sameSite }),
          ...(cookie.domain !== undefined && { domain: cookie.domain }),
        });
        resolve();
      });
    });
  };

  /** Deletes every stored token set of the user and ends every session that holds one. */
  const endAllSessionsOf = async (
    userId: string,
    sessionStore: SessionStore | undefined,
  ): Promise<number> => {
    const records = (await vault.store.listUserRecords?.(userId)) ?? [];
    await Promise.all(
      records.map((record) => vault.store.markSessionEnded(record.sessionId, endedTtlSeconds)),
    );
    if (sessionStore) {
      await Promise.all(
        records.map(
          (record) =>
            new Promise<void>((resolve, reject) =>
              sessionStore.destroy(record.sessionId, (err?: unknown) =>
                err
                  ? reject(new KakaoSessionError('A session could not be destroyed', { cause: err }))
                  : resolve(),
              ),
            ),
        ),
      );
    }
    await vault.store.deleteUser(userId);
    return records.length;
  };

  const refuseCrossSite = (req: Request, res: Response, action: string): boolean => {
    privateResponse(res);
    if (isSameOriginPost(req.headers, appOrigin)) return false;
    logger({ level: 'warn', event: `${action}_refused`, reason: 'cross_origin', ip: req.ip });
    fail(req, res, 403, 'forbidden_origin');
    return true;
  };

  routes.post(logoutPath, function kakaoLogout(req: Request, res: Response) {
    if (refuseCrossSite(req, res, 'logout')) return;
    const user = req.user as KakaoSessionUser | undefined;
    const key = user ? { userId: user.id, sessionId: req.sessionID } : undefined;
    const withKakaoAccount = accountLogout !== undefined && req.query.kakaoAccount === '1';
    const kakaoLogout = key
      ? vault
          .load(key)
          .then((tokens) => (tokens ? strategy.client.logout(tokens.accessToken) : undefined))
          .catch((err: unknown) => {
            // Best effort: the local logout completes whatever Kakao says.
            logger({
              level: 'warn',
              event: 'kakao_logout_failed',
              reason: isKakaoError(err) ? err.code : 'unexpected',
              userId: key.userId,
            });
          })
          .then(() => vault.delete(key))
      : Promise.resolve();
    kakaoLogout
      .then(() => endThisSession(req, res))
      .then(
        () => {
          if (user) logger({ level: 'info', event: 'logout', userId: user.id, ip: req.ip });
          if (!withKakaoAccount || !accountLogout) {
            res.redirect(302, logoutRedirect);
            return;
          }
          // Kakao's account logout ends the Kakao browser session too and comes back with our
          // state; the state lives in a fresh, anonymous session.
          req.sessionStore.regenerate(req, (err?: unknown) => {
            if (err) {
              res.redirect(302, logoutRedirect);
              return;
            }
            const state = randomToken(32);
            (req.session as unknown as Record<string, unknown>)[LOGOUT_STATE_KEY] = state;
            req.session.save(() => {
              const url = new URL(`${strategy.client.authOrigin}/oauth/logout`);
              url.searchParams.set('client_id', strategy.client.clientID);
              url.searchParams.set('logout_redirect_uri', accountLogout.url);
              url.searchParams.set('state', state);
              res.redirect(302, url.toString());
            });
          });
        },
        (err: unknown) => failWithError(req, res, err),
      );
  });

  routes.all(logoutPath, function kakaoLogoutMethod(req: Request, res: Response) {
    privateResponse(res);
    res.set('Allow', 'POST');
    fail(req, res, 405, 'method_not_allowed');
  });

  if (accountLogout) {
    routes.get(accountLogout.path, function kakaoAccountLogoutReturn(req: Request, res: Response) {
      privateResponse(res);
      const session = req.session as unknown as Record<string, unknown>;
      const expected = session[LOGOUT_STATE_KEY];
      const state = req.query.state;
      const ok = typeof expected === 'string' && typeof state === 'string' && safeEqual(state, expected);
      if (!ok)
        logger({ level: 'warn', event: 'account_logout_return', reason: 'state_mismatch', ip: req.ip });
      const finish = () => res.redirect(302, logoutRedirect);
      if (expected === undefined) finish();
      else endThisSession(req, res).then(finish, finish);
    });
  }

  if (unlinkPath) {
    routes.post(unlinkPath, function kakaoUnlink(req: Request, res: Response) {
      if (refuseCrossSite(req, res, 'unlink')) return;
      const user = req.user as KakaoSessionUser | undefined;
      if (!user) {
        res.redirect(302, logoutRedirect);
        return;
      }
      const sessionStore = req.sessionStore;
      router
        .withAccessToken(req, (accessToken) => strategy.client.unlink(accessToken))
        .then(() => endAllSessionsOf(user.id, sessionStore))
        .then(() => (req.session ? endThisSession(req, res) : undefined))
        .then(
          () => {
            logger({ level: 'info', event: 'unlinked', reason: 'user', userId: user.id, ip: req.ip });
            res.redirect(302, logoutRedirect);
          },
          (err: unknown) => {
            if (err instanceof ReauthRequiredError) res.redirect(302, logoutRedirect);
            else failWithError(req, res, err);
          },
        );
    });
    routes.all(unlinkPath, function kakaoUnlinkMethod(req: Request, res: Response) {
      res.set('Allow', 'POST');
      fail(req, res, 405, 'method_not_allowed');
    });
  }

  if (webhook) {
    let sessionStore: SessionStore | undefined;
    const handler = createUnlinkWebhookHandler({
      adminKey: webhook.adminKey,
      appId: webhook.appId,
      logger,
      onUnlink: async (event) => {
        await endAllSessionsOf(event.userId, sessionStore);
        logger({
          level: 'info',
          event: 'unlinked',
          reason: event.referrerType ?? 'webhook',
          userId: event.userId,
        });
        if (onUnlink) await onUnlink(event);
      },
    });
    routes.all(webhookPath, function kakaoUnlinkWebhook(req: Request, res: Response, next: NextFunction) {
      sessionStore = req.sessionStore;
      handler(req, res, next);
    });
  }

  const userKey = (req: Request) => {
    const user = req.user as KakaoSessionUser | undefined;
    return user ? { userId: user.id, sessionId: req.sessionID } : undefined;
  };

  for (const path of [
    loginPath,
    callbackPath,
    logoutPath,
    accountLogout?.path,
    unlinkPath,
    webhook && webhookPath,
  ]) {
    if (path) ownPaths.add(path);
  }

  async function endSessionOnReauth<T>(req: Request, run: (key: TokenRecordKey) => Promise<T>): Promise<T> {
    const key = userKey(req);
    if (!key) throw new ReauthRequiredError('Not logged in');
    try {
      return await run(key);
    } catch (err) {
      if (err instanceof ReauthRequiredError) {
        logger({
          level: 'info',
          event: 'session_ended',
          reason: 'reauth_required',
          userId: key.userId,
          ip: req.ip,
        });
        req.user = undefined;
        await vault.store.markSessionEnded(key.sessionId, endedTtlSeconds).catch(() => undefined);
        await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
      }
      throw err;
    }
  }

  Object.defineProperties(router, {
    guardSessionStore: {
      value: (store: SessionStore) => {
        const set = store.set.bind(store);
        store.set = function guardedSet(sid, session, callback) {
          const data = session as typeof session & {
            passport?: { user?: unknown };
            req?: Record<symbol, boolean>;
          };
          // Only writes of a logged-in session can resurrect one; the login's own write is exempt.
          if (data.passport?.user === undefined || data.req?.[FRESH_LOGIN] === true) {
            set(sid, session, callback);
            return;
          }
          vault.store.isSessionEnded(sid).then(
            (ended) => {
              if (ended) callback?.();
              else set(sid, session, callback);
            },
            (err: unknown) => callback?.(err),
          );
        };
        return store;
      },
    },
    strategy: { value: strategy, enumerable: true },
    vault: { value: vault, enumerable: true },
    getTokens: {
      value: async (req: Request) => {
        const key = userKey(req);
        return key && vault.load(key);
      },
    },
    getAccessToken: {
      value: (req: Request) => endSessionOnReauth(req, (key) => vault.getAccessToken(key)),
    },
    withAccessToken: {
      value: <T>(req: Request, call: (accessToken: string) => Promise<T>) =>
        endSessionOnReauth(req, async (key) => {
          const accessToken = await vault.getAccessToken(key);
          try {
            return await call(accessToken);
          } catch (err) {
            // Kakao refused a token we thought valid (expired early, or logged out elsewhere):
            // refresh once, unless a concurrent request already did, and try again.
            if (!(err instanceof KakaoApiError && err.apiCode === -401)) throw err;
            const fresh = await vault.getAccessToken(key, { rejected: accessToken });
            try {
              return await call(fresh);
            } catch (again) {
              // Refused right after a refresh: the tokens are dead (unlinked elsewhere).
              if (!(again instanceof KakaoApiError && again.apiCode === -401)) throw again;
              await vault.delete(key);
              throw new ReauthRequiredError();
            }
          }
        }),
    },
  });
  return router;
}
