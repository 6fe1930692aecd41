/**
 * The app's access to the logged-in user's Kakao tokens: `getTokens`, `getAccessToken` and
 * `withAccessToken` (a -401 from Kakao refreshes once and retries). When the tokens are gone for good
 * (the refresh token expired or was revoked, or the record was tampered with), the login ends and
 * `ReauthRequiredError` is thrown. Offline access works by user id, without a session.
 */
import type { Request } from 'express';
import { ReauthRequiredError, isKakaoError } from '../errors';
import type { KakaoLogger } from '../logger';
import { OFFLINE_SESSION_ID, type LoginKey } from '../stores/contracts';
import type { KakaoTokens, TokenVault } from '../tokens';
import type { AccountSessions } from './account-sessions';

export interface AccessTokens {
  getTokens(req: Request): Promise<KakaoTokens | undefined>;
  getAccessToken(req: Request): Promise<string>;
  withAccessToken<T>(req: Request, call: (accessToken: string) => Promise<T>): Promise<T>;
  getOfflineAccessToken(userId: string): Promise<string>;
  withOfflineAccessToken<T>(userId: string, call: (accessToken: string) => Promise<T>): Promise<T>;
}

function isRejectedToken(err: unknown): boolean {
  return isKakaoError(err) && err.code === 'ERR_KAKAO_API' && (err as { apiCode?: unknown }).apiCode === -401;
}

export function accessTokens(ctx: {
  vault: TokenVault;
  sessions: AccountSessions;
  logger: KakaoLogger;
  offlineAccess: boolean;
}): AccessTokens {
  const { vault, sessions, logger } = ctx;

  /** Runs `call` with a valid token, refreshing once more when Kakao refuses the one it had. */
  const withToken = async <T>(key: LoginKey, call: (accessToken: string) => Promise<T>): Promise<T> => {
    const accessToken = await vault.getAccessToken(key);
    try {
      return await call(accessToken);
    } catch (err) {
      // Kakao refused a token we thought valid (expired early, logged out elsewhere): refresh once,
      // unless a concurrent request already did, and try again.
      if (!isRejectedToken(err)) throw err;
      const fresh = await vault.getAccessToken(key, { rejected: accessToken });
      try {
        return await call(fresh);
      } catch (again) {
        // Refused right after a refresh: the tokens are dead (unlinked elsewhere).
        if (!isRejectedToken(again)) throw again;
        await vault.delete(key);
        throw new ReauthRequiredError();
      }
    }
  };

  /** Ends the request's login when its tokens are gone for good. */
  const endOnReauth = async <T>(req: Request, run: (key: LoginKey) => Promise<T>): Promise<T> => {
    const key = sessions.tokensKey(req);
    if (!key) throw new ReauthRequiredError('Not logged in with Kakao');
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
        await sessions.endThis(req, req.res).catch(() => undefined);
      }
      throw err;
    }
  };

  const offlineKey = (userId: string): LoginKey => {
    if (!ctx.offlineAccess)
      throw new ReauthRequiredError('Offline access is off (kakaoAuth({ offlineAccess: true }))');
    return { userId, sessionId: OFFLINE_SESSION_ID };
  };

  return {
    getTokens: (req) =>
      endOnReauth(req, async (key) => {
        const tokens = await vault.load(key);
        // A login without tokens cannot be used with Kakao: it ends, like one whose refresh token died.
        if (!tokens) throw new ReauthRequiredError();
        return tokens;
      }).catch((err: unknown) => (err instanceof ReauthRequiredError ? undefined : Promise.reject(err))),
    getAccessToken: (req) => endOnReauth(req, (key) => vault.getAccessToken(key)),
    withAccessToken: (req, call) => endOnReauth(req, (key) => withToken(key, call)),
    getOfflineAccessToken: async (userId) => vault.getAccessToken(offlineKey(userId)),
    withOfflineAccessToken: async (userId, call) => withToken(offlineKey(userId), call),
  };
}
