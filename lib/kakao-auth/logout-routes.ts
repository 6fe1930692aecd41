/**
 * `POST /logout` (same-origin; optionally through Kakao's account logout), its return route, `POST
 * /unlink`, and the unlink webhook. Logout expires the login's Kakao token (refreshing an expired one
 * first, so the refresh token dies at Kakao too; best effort, bounded), then ends the login here.
 */
import type { Request, Response, Router } from 'express';
import type { Store as SessionStore } from 'express-session';
import { ReauthRequiredError } from '../errors';
import { buildAccountLogoutUrl } from '../kakao-urls';
import { isSameOriginPost } from '../origin-check';
import { randomToken, safeEqual } from '../pkce';
import type { TokenCipher } from '../token-cipher';
import type { TokenVault } from '../tokens';
import { createUnlinkWebhookHandler } from '../unlink-webhook';
import type { AccessTokens } from './access-tokens';
import type { AccountSessions } from './account-sessions';
import { privateResponse } from './errors';
import { needsSession, type RouteHelpers } from './login-routes';
import type { ResolvedAuthOptions } from './options';
import { sessionUser } from './session-user';

/** Kakao's token logout and the refresh before it, together, never hold up the local logout longer. */
const KAKAO_LOGOUT_BUDGET_MS = 5000;
const LOGOUT_STATE_PURPOSE = 'kakao-account-logout';

export function mountLogoutRoutes(
  routes: Router,
  ctx: {
    o: ResolvedAuthOptions;
    vault: TokenVault;
    sessions: AccountSessions;
    tokens: AccessTokens;
    helpers: RouteHelpers;
    stateCipher: TokenCipher;
    sessionStore: () => SessionStore | undefined;
  },
): string[] {
  const { o, vault, sessions, helpers } = ctx;
  const { logger } = o;
  const client = o.strategy.client;
  const secure = o.s.cookies.secure;
  const logoutCookie = secure ? '__Host-kakao_logout' : 'kakao_logout';
  const paths: string[] = [o.logoutPath];

  const refuseCrossSite = (req: Request, res: Response, action: string): boolean => {
    privateResponse(res);
    if (isSameOriginPost(req.headers, o.s.appOrigin)) return false;
    logger({ level: 'warn', event: `${action}_refused`, reason: 'cross_origin', ip: req.ip });
    helpers.fail(req, res, 403, 'forbidden_origin');
    return true;
  };

  /** Expires the login's tokens at Kakao; failures are logged, never thrown. */
  const expireAtKakao = async (req: Request): Promise<void> => {
    const key = sessions.tokensKey(req);
    if (!key || o.offlineAccess) return;
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, KAKAO_LOGOUT_BUDGET_MS);
    });
    const call = vault
      .getAccessToken(key)
      .then((token) => client.logout(token))
      .catch((err: unknown) => {
        if (err instanceof ReauthRequiredError) return;
        logger({
          level: 'warn',
          event: 'kakao_logout_failed',
          reason: (err as { code?: string }).code ?? 'unexpected',
          userId: key.userId,
        });
      });
    await Promise.race([call, budget]);
    clearTimeout(timer);
  };

  routes.post(o.logoutPath, needsSession(helpers), function kakaoLogout(req: Request, res: Response) {
    if (refuseCrossSite(req, res, 'logout')) return;
    const user = sessionUser(req, o.sessionKey);
    const withKakaoAccount = o.accountLogout !== undefined && req.query.kakaoAccount === '1';
    expireAtKakao(req)
      .then(() => sessions.endThis(req, res))
      .then(
        () => {
          if (user) logger({ level: 'info', event: 'logout', userId: user.id, ip: req.ip });
          if (!withKakaoAccount || !o.accountLogout) {
            res.redirect(302, o.logoutRedirect);
            return;
          }
          // Kakao's account logout ends the Kakao browser session too and comes back with our state,
          // which lives sealed in a short cookie (no server state for it).
          const state = randomToken(32);
          res.cookie(
            logoutCookie,
            ctx.stateCipher.seal(state, { purpose: LOGOUT_STATE_PURPOSE, name: logoutCookie }),
            {
              httpOnly: true,
              sameSite: 'lax',
              secure,
              path: secure ? '/' : o.accountLogout.path,
              maxAge: 600_000,
              encode: String,
            },
          );
          res.redirect(
            302,
            buildAccountLogoutUrl({
              authOrigin: client.authOrigin,
              clientID: client.clientID,
              logoutRedirectUri: o.accountLogout.url,
              state,
            }),
          );
        },
        (err: unknown) => helpers.failWithError(req, res, err),
      );
  });

  routes.all(o.logoutPath, function kakaoLogoutMethod(req: Request, res: Response) {
    privateResponse(res);
    res.set('Allow', 'POST');
    helpers.fail(req, res, 405, 'method_not_allowed');
  });

  if (o.accountLogout) {
    const { path } = o.accountLogout;
    paths.push(path);
    routes.get(path, function kakaoAccountLogoutReturn(req: Request, res: Response) {
      privateResponse(res);
      const sealed = readCookie(req, logoutCookie);
      let expected: string | undefined;
      try {
        expected = sealed
          ? ctx.stateCipher.open(sealed, { purpose: LOGOUT_STATE_PURPOSE, name: logoutCookie }).plaintext
          : undefined;
      } catch {
        expected = undefined;
      }
      const state = req.query.state;
      if (!(typeof expected === 'string' && typeof state === 'string' && safeEqual(state, expected))) {
        logger({ level: 'warn', event: 'account_logout_return', reason: 'state_mismatch', ip: req.ip });
      }
      if (sealed)
        res.cookie(logoutCookie, '', {
          httpOnly: true,
          sameSite: 'lax',
          secure,
          path: secure ? '/' : path,
          expires: new Date(0),
        });
      res.redirect(302, o.logoutRedirect);
    });
  }

  if (o.unlinkPath) {
    paths.push(o.unlinkPath);
    routes.post(o.unlinkPath, needsSession(helpers), function kakaoUnlink(req: Request, res: Response) {
      if (refuseCrossSite(req, res, 'unlink')) return;
      const user = sessionUser(req, o.sessionKey);
      if (!user) {
        res.redirect(302, o.logoutRedirect);
        return;
      }
      ctx.tokens
        .withAccessToken(req, (accessToken) => client.unlink(accessToken))
        .then(() => sessions.endAll(user.id, ctx.sessionStore() ?? req.sessionStore))
        .then(() => (req.session ? sessions.endThis(req, res) : undefined))
        .then(
          () => {
            logger({ level: 'info', event: 'unlinked', reason: 'user', userId: user.id, ip: req.ip });
            res.redirect(302, o.logoutRedirect);
          },
          (err: unknown) => {
            if (err instanceof ReauthRequiredError) res.redirect(302, o.logoutRedirect);
            else helpers.failWithError(req, res, err);
          },
        );
    });
    routes.all(o.unlinkPath, function kakaoUnlinkMethod(req: Request, res: Response) {
      res.set('Allow', 'POST');
      helpers.fail(req, res, 405, 'method_not_allowed');
    });
  }

  if (o.webhook) {
    const { webhook, onUnlink } = o;
    paths.push(webhook.path);
    let lastStore: SessionStore | undefined;
    const handler = createUnlinkWebhookHandler({
      adminKey: webhook.adminKey,
      appId: webhook.appId,
      logger,
      onUnlink: async (event) => {
        await sessions.endAll(event.userId, ctx.sessionStore() ?? lastStore);
        logger({
          level: 'info',
          event: 'unlinked',
          reason: event.referrerType ?? 'webhook',
          userId: event.userId,
        });
        if (onUnlink) await onUnlink(event);
      },
    });
    routes.all(webhook.path, function kakaoUnlinkWebhook(req: Request, res: Response, next) {
      lastStore = req.sessionStore;
      handler(req, res, next);
    });
  }
  return paths;
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
