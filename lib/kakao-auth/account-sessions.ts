/**
 * Ending logins: one (logout, expiry, a refresh token Kakao refused) or all of a user's (unlink, the
 * webhook). An ended session gets a tombstone that lives as long as the login could have, so a request
 * that loaded the session earlier cannot write it back (see `session-guard.ts`).
 */
import type { Request, Response } from 'express';
import type { Store as SessionStore } from 'express-session';
import { KakaoSessionError } from '../errors';
import type { KakaoLogger } from '../logger';
import {
  OFFLINE_SESSION_ID,
  markerNames,
  type LoginKey,
  type MarkerStore,
  type TokenStore,
} from '../stores/contracts';
import type { TokenVault } from '../tokens';
import {
  OWN_DESTROYS,
  clearSessionCookie,
  destroySession,
  sessionUser,
  type StoredKakaoUser,
} from './session-user';

export interface AccountSessions {
  /** The record key of the tokens the request's login uses (the user's offline set in offline mode). */
  tokensKey(req: Request): LoginKey | undefined;
  /** Ends the request's login: tombstone, its tokens, the session, the cookie. */
  endThis(req: Request, res: Response | undefined): Promise<void>;
  /** Ends every login of a user, including sessions whose tokens are already gone, and deletes all their tokens. */
  endAll(userId: string, store: SessionStore | undefined): Promise<number>;
  /** Ends the given sessions of a user (logins the token store dropped beyond its bound). */
  endSessions(userId: string, sessionIds: readonly string[], store: SessionStore | undefined): Promise<void>;
  /** Ends the login of a Kakao session another part of the app destroyed (tombstone, tokens). */
  endDestroyed(user: StoredKakaoUser, sessionId: string): Promise<void>;
}

export function accountSessions(ctx: {
  sessionKey: string;
  maxSessionAgeMs: number;
  offlineAccess: boolean;
  cookieName: string;
  vault: TokenVault;
  tokenStore: TokenStore;
  markers: MarkerStore;
  logger: KakaoLogger;
  now: () => number;
}): AccountSessions {
  const { sessionKey, vault, tokenStore, markers, now } = ctx;

  // No session outlives the absolute lifetime from now, whatever clock `endsAt` was read from (a token
  // store may keep its own).
  const tombstone = (key: LoginKey, endsAt: number) =>
    markers.add(
      markerNames.endedSession(key),
      '1',
      Math.min(ctx.maxSessionAgeMs, Math.max(1000, Math.ceil(endsAt - now()))),
    );

  /** Tombstone first, then the tokens: a request still holding the session must not write it back. */
  const endLogin = async (user: StoredKakaoUser, sessionId: string): Promise<void> => {
    const key = { userId: user.id, sessionId };
    await tombstone(key, user.authTime + ctx.maxSessionAgeMs);
    // In offline mode the user's token set outlives the session: only the login entry goes.
    if (ctx.offlineAccess) await tokenStore.delete(key);
    else await vault.delete(key);
  };

  const destroyIn = (store: SessionStore, sessionId: string) =>
    new Promise<void>((resolve, reject) =>
      store.destroy(sessionId, (err?: unknown) =>
        err ? reject(new KakaoSessionError('A session could not be destroyed', { cause: err })) : resolve(),
      ),
    );

  const endSessions = async (
    userId: string,
    logins: ReadonlyArray<{ sessionId: string; expiresAt: number }>,
    store: SessionStore | undefined,
  ) => {
    const sessions = logins.filter((l) => l.sessionId !== OFFLINE_SESSION_ID);
    // Tombstones first: a request still holding one of these sessions must not write it back.
    await Promise.all(sessions.map((l) => tombstone({ userId, sessionId: l.sessionId }, l.expiresAt)));
    if (store) await Promise.all(sessions.map((l) => destroyIn(store, l.sessionId)));
  };

  return {
    tokensKey(req) {
      const user = sessionUser(req, sessionKey);
      if (!user) return undefined;
      return { userId: user.id, sessionId: ctx.offlineAccess ? OFFLINE_SESSION_ID : req.sessionID };
    },

    async endThis(req, res) {
      const user = sessionUser(req, sessionKey);
      if (user) await endLogin(user, req.sessionID);
      if (res && req.session) clearSessionCookie(req, res, ctx.cookieName);
      const sessionId = req.sessionID;
      OWN_DESTROYS.add(sessionId);
      try {
        await destroySession(req);
      } finally {
        OWN_DESTROYS.delete(sessionId);
      }
    },

    endDestroyed: (user, sessionId) => endLogin(user, sessionId),

    async endAll(userId, store) {
      const logins = await tokenStore.listLogins(userId);
      await endSessions(userId, logins, store);
      const deleted = await tokenStore.deleteUser(userId);
      // Logins written between the listing and the deletion end too.
      const late = deleted.filter((d) => !logins.some((l) => l.sessionId === d.sessionId));
      if (late.length > 0) await endSessions(userId, late, store);
      return new Set(
        [...logins, ...deleted].map((l) => l.sessionId).filter((id) => id !== OFFLINE_SESSION_ID),
      ).size;
    },

    async endSessions(userId, sessionIds, store) {
      const endsAt = now() + ctx.maxSessionAgeMs;
      await endSessions(
        userId,
        sessionIds.map((sessionId) => ({ sessionId, expiresAt: endsAt })),
        store,
      );
    },
  };
}
