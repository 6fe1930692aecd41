/**
 * `GET <loginPath>` starts a login (a sealed transaction cookie and a redirect to Kakao; nothing is
 * written to any store) and `GET <callback path>` finishes it: the strategy consumes the state once,
 * then the session gets the user and the token store the sealed tokens, in one round trip.
 */
import type { NextFunction, Request, Response, Router } from 'express';
import type { Store as SessionStore } from 'express-session';
import type { Passport } from 'passport';
import type { KakaoLogger } from '../logger';
import type { KakaoLoginFailure } from '../login-failures';
import { sanitizeReturnTo } from '../return-to';
import { OFFLINE_SESSION_ID } from '../stores/contracts';
import { configError } from '../config';
import { LOGIN_STARTED_AT, LOGIN_TOKENS, type KakaoTokenSet } from '../strategy-types';
import type { TokenVault } from '../tokens';
import type { AccountSessions } from './account-sessions';
import { privateResponse } from './errors';
import type { ResolvedAuthOptions } from './options';
import {
  destroySession,
  establishLogin,
  isKakaoSessionUser,
  saveSession,
  sessionUser as currentUser,
  type StoredKakaoUser,
} from './session-user';

export interface RouteHelpers {
  fail(req: Request, res: Response, status: number, code: string, err?: unknown): void;
  failWithError(req: Request, res: Response, err: unknown): void;
  logger: KakaoLogger;
}

/** Refuses requests without a session: express-session is missing, or skipped them (store disconnected). */
export function needsSession(helpers: RouteHelpers) {
  return function kakaoNeedsSession(req: Request, res: Response, next: NextFunction): void {
    if (req.session) {
      next();
      return;
    }
    helpers.logger({
      level: 'error',
      event: 'session_unavailable',
      reason: 'no_session',
      hint: 'req.session is missing: mount express-session before kakaoAuth (or its store is disconnected)',
      ip: req.ip,
    });
    helpers.fail(req, res, 503, 'session_unavailable');
  };
}

/** Starts a login through the strategy: a sealed transaction cookie and a 302 to Kakao, or an error page. */
export function startLogin(
  ctx: { passport: InstanceType<typeof Passport>; helpers: RouteHelpers },
  req: Request,
  res: Response,
  next: NextFunction,
  options: { returnTo?: string; scope?: readonly string[] },
): void {
  privateResponse(res);
  ctx.passport.authenticate(
    'kakao',
    {
      session: false,
      callback: false,
      returnTo: options.returnTo,
      ...(options.scope && { scope: [...options.scope] }),
    },
    (err: unknown, _user: unknown, info: KakaoLoginFailure | undefined, status: number | undefined) => {
      if (err) ctx.helpers.failWithError(req, res, err);
      else if (info?.code === 'not_navigation') ctx.helpers.fail(req, res, status ?? 403, 'not_navigation');
      else next();
    },
  )(req, res, next);
}

export function mountLoginRoutes(
  routes: Router,
  ctx: {
    o: ResolvedAuthOptions;
    passport: InstanceType<typeof Passport>;
    vault: TokenVault;
    sessions: AccountSessions;
    helpers: RouteHelpers;
    sessionStore: () => SessionStore | undefined;
  },
): void {
  const { o, passport, vault, sessions, helpers } = ctx;

  routes.get(o.loginPath, function kakaoLoginStart(req: Request, res: Response, next: NextFunction) {
    const returnTo = sanitizeReturnTo(req.query.returnTo, {
      origin: o.s.appOrigin,
      reservedPrefixes: o.reservedPrefixes,
    });
    startLogin(ctx, req, res, next, { returnTo });
  });

  routes.get(
    o.callbackPath,
    needsSession(helpers),
    function kakaoCallback(req: Request, res: Response, next: NextFunction) {
      privateResponse(res);
      passport.authenticate(
        'kakao',
        { session: false, callback: true },
        (
          err: unknown,
          user: Express.User | false,
          info:
            | (KakaoLoginFailure & {
                returnTo?: string;
                [LOGIN_TOKENS]?: KakaoTokenSet;
                [LOGIN_STARTED_AT]?: number;
              })
            | undefined,
        ) => {
          if (err) {
            helpers.failWithError(req, res, err);
            return;
          }
          if (!user) {
            const code = info?.code ?? 'authorization_failed';
            const sep = o.failureRedirect.includes('?') ? '&' : '?';
            res.redirect(302, `${o.failureRedirect}${sep}login_error=${encodeURIComponent(code)}`);
            return;
          }
          const sessionUser = {
            ...(user as object),
            authTime: (user as { authTime?: unknown }).authTime ?? o.now(),
          };
          // A login started before this browser's current Kakao login may not replace it with someone
          // else: that is a transaction planted in the browser (over plain http, or by a sibling
          // subdomain) being played against its user, never two tabs of one person.
          const current = currentUser(req, o.sessionKey);
          const startedAt = info?.[LOGIN_STARTED_AT] ?? 0;
          if (
            current &&
            current.id !== (sessionUser as { id?: unknown }).id &&
            startedAt < current.authTime
          ) {
            o.logger({
              level: 'warn',
              event: 'login_failed',
              reason: 'superseded_transaction',
              userId: current.id,
              ip: req.ip,
            });
            const sep = o.failureRedirect.includes('?') ? '&' : '?';
            res.redirect(302, `${o.failureRedirect}${sep}login_error=state_mismatch`);
            return;
          }
          if (!isKakaoSessionUser(sessionUser)) {
            helpers.failWithError(
              req,
              res,
              configError(
                'kakaoAuth: the strategy\'s verify callback must hand done() a user with a string "id" (the Kakao user id).',
              ),
            );
            return;
          }
          finishLogin(req, sessionUser, info?.[LOGIN_TOKENS]).then(
            // Checked again right before use, in case anything else wrote the value.
            () =>
              res.redirect(
                302,
                sanitizeReturnTo(info?.returnTo, {
                  origin: o.s.appOrigin,
                  reservedPrefixes: o.reservedPrefixes,
                }),
              ),
            (loginErr: unknown) => {
              // The answer does not wait for the cleanup: the store that failed may be slow to fail again.
              void destroySession(req).catch(() => undefined);
              helpers.failWithError(req, res, loginErr);
            },
          );
        },
      )(req, res, next);
    },
  );

  routes.all(o.callbackPath, function kakaoCallbackMethod(req: Request, res: Response) {
    res.set('Allow', 'GET');
    helpers.fail(req, res, 405, 'method_not_allowed');
  });

  /** The session write, the token write and the previous login's cleanup, issued together. */
  async function finishLogin(
    req: Request,
    user: StoredKakaoUser,
    tokens: KakaoTokenSet | undefined,
  ): Promise<void> {
    const previous = await establishLogin(req, o.sessionKey, user);
    if (req.session.cookie.secure === true && !req.secure) {
      // express-session will not send a Secure cookie over what it thinks is plain http.
      o.logger({
        level: 'error',
        event: 'session_cookie_not_sent',
        reason: 'insecure_request',
        hint: 'The session cookie is Secure but this request is not https as Express sees it: behind a TLS-terminating proxy set app.set("trust proxy", <hops>), or the user stays logged out.',
        ip: req.ip,
      });
    }
    const key = { userId: user.id, sessionId: req.sessionID };
    const loginEndsAt = user.authTime + o.maxSessionAgeMs;
    const writes: Array<Promise<unknown>> = [saveSession(req)];
    if (tokens) {
      if (o.offlineAccess) {
        writes.push(vault.save({ userId: user.id, sessionId: OFFLINE_SESSION_ID }, tokens));
        // The login's entry holds no tokens: it lists the session for unlink and the webhook.
        writes.push(o.tokenStore.set(key, '-', Math.ceil(o.maxSessionAgeMs / 1000)).then(endDropped));
      } else {
        writes.push(vault.save(key, tokens, { loginEndsAt }).then(endDropped));
      }
    }
    // A new login in the same browser replaces the previous one: its tokens go now, not in two months,
    // and a request still holding the old session cannot write it back.
    if (previous && previous.sessionId !== req.sessionID) {
      writes.push(sessions.endSessions(previous.userId, [previous.sessionId], undefined));
      writes.push(o.offlineAccess ? o.tokenStore.delete(previous) : vault.delete(previous));
    }
    await Promise.all(writes);

    /** Logins the store dropped to stay within its per-user bound end too. */
    function endDropped(dropped: string[]): Promise<void> | undefined {
      return dropped.length > 0
        ? sessions.endSessions(user.id, dropped, ctx.sessionStore() ?? req.sessionStore)
        : undefined;
    }
  }
}
