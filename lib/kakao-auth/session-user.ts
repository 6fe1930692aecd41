/**
 * The Kakao user in the session: kept under kakaoAuth's own key (`req.session.kakao`), restored into
 * `req.user` on every request, ended at the absolute lifetime. Sessions another Passport strategy
 * logged in (`req.session.passport`) are never touched.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Session } from 'express-session';
import { KakaoSessionError } from '../errors';
import type { LoginKey } from '../stores/contracts';
import type { KakaoSessionUser } from './options';

type SessionBag = Session & Record<string, unknown>;

/** A Kakao user as kakaoAuth stores it: always with its login time. */
export type StoredKakaoUser = KakaoSessionUser & { authTime: number };

/**
 * Sessions kakaoAuth destroys itself (logout, a login's regeneration): it ends their logins already, so
 * the session guard need not look them up first.
 */
export const OWN_DESTROYS = new Set<string>();

/** Marks the request whose session write is the login itself (the session guard lets it through). */
export const FRESH_LOGIN = Symbol('kakao-login-express.freshLogin');

const ID_PATTERN = /^[^{}\s\p{Cc}]{1,128}$/u;

/** Whether a session value is a Kakao session user (session data can be edited by other code). */
export function isKakaoSessionUser(value: unknown): value is StoredKakaoUser {
  if (typeof value !== 'object' || value === null) return false;
  const { id, authTime } = value as Record<string, unknown>;
  return (
    typeof id === 'string' && ID_PATTERN.test(id) && typeof authTime === 'number' && Number.isFinite(authTime)
  );
}

/** The Kakao user of the request's session, or undefined. */
export function sessionUser(req: Request, sessionKey: string): StoredKakaoUser | undefined {
  const value = (req.session as SessionBag | undefined)?.[sessionKey];
  return isKakaoSessionUser(value) ? value : undefined;
}

/**
 * Whether the session was loaded from the store (rather than generated for this request): express-session
 * keeps the id from the cookie only when the store returned a session for it, so the signed cookie
 * `s:<id>.<signature>` is in the request exactly then. No cookie name is needed.
 */
export function sessionWasLoaded(req: Request): boolean {
  const header = req.headers.cookie;
  const id = req.sessionID;
  return (
    typeof header === 'string' &&
    typeof id === 'string' &&
    (header.includes(`s%3A${id}.`) || header.includes(`s:${id}.`))
  );
}

function promised(run: (done: (err?: unknown) => void) => void, what: string): Promise<void> {
  return new Promise((resolve, reject) =>
    run((err?: unknown) => (err ? reject(new KakaoSessionError(what, { cause: err })) : resolve())),
  );
}

/**
 * Puts the user into the session: a session loaded from the store gets a new id first (no fixation,
 * and nothing of the old session is carried over); a session generated for this request already has a
 * fresh id, so it costs no extra round trip. Saves explicitly before the caller redirects.
 * @returns the previous Kakao login of this browser, whose tokens the caller deletes.
 */
export async function establishLogin(
  req: Request,
  sessionKey: string,
  user: StoredKakaoUser,
): Promise<LoginKey | undefined> {
  if (!req.session) throw new KakaoSessionError('No session: mount express-session before kakaoAuth');
  const previous = sessionUser(req, sessionKey);
  const previousKey = previous && { userId: previous.id, sessionId: req.sessionID };
  if (sessionWasLoaded(req)) {
    // The caller ends the previous login itself; the guard need not look the old session up.
    const old = req.sessionID;
    OWN_DESTROYS.add(old);
    try {
      await promised((done) => req.session.regenerate(done), 'The session could not be renewed');
    } finally {
      OWN_DESTROYS.delete(old);
    }
  }
  (req.session as SessionBag)[sessionKey] = user;
  req.user = user as unknown as Express.User;
  (req as unknown as Record<symbol, boolean>)[FRESH_LOGIN] = true;
  return previousKey;
}

/** Saves the session now (so a store failure becomes an error answer, not a silently lost login). */
export function saveSession(req: Request): Promise<void> {
  return promised((done) => req.session.save(done), 'The session could not be saved');
}

/** Destroys the request's session (the cookie is left to the caller). */
export function destroySession(req: Request): Promise<void> {
  if (!req.session) return Promise.resolve();
  return promised((done) => req.session.destroy(done), 'The session could not be destroyed');
}

/** Expires the session cookie with the attributes it was set with. */
export function clearSessionCookie(req: Request, res: Response, cookieName: string): void {
  const cookie = req.session?.cookie;
  res.clearCookie(cookieName, {
    path: cookie?.path ?? '/',
    httpOnly: true,
    ...(cookie?.secure !== undefined && { secure: Boolean(cookie.secure) }),
    ...(cookie?.sameSite !== undefined && { sameSite: cookie.sameSite }),
    ...(cookie?.domain !== undefined && { domain: cookie.domain }),
  });
}

/**
 * The per-request middleware: restores `req.user` for Kakao sessions (one property read for every other
 * request) and ends a Kakao login past its absolute lifetime.
 */
export function restoreSessionUser(options: {
  sessionKey: string;
  maxSessionAgeMs: number;
  now: () => number;
  onExpired: (req: Request, user: KakaoSessionUser) => Promise<void>;
}): (req: Request, res: Response, next: NextFunction) => void {
  const { sessionKey, maxSessionAgeMs, now, onExpired } = options;
  return function restoreKakaoUser(req, _res, next) {
    const value = (req.session as SessionBag | undefined)?.[sessionKey];
    if (value === undefined) {
      next();
      return;
    }
    if (isKakaoSessionUser(value) && now() - value.authTime < maxSessionAgeMs) {
      req.user = value as unknown as Express.User;
      next();
      return;
    }
    // Past the absolute lifetime (or not ours any more): the login ends, and the rest of the request
    // runs without a session.
    onExpired(req, value as KakaoSessionUser).then(() => next(), next);
  };
}
