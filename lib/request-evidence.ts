/**
 * What a login request shows about cookies, hosts and proxies, for the diagnostics: names and flags
 * only, never a cookie's value.
 */
import type { Request } from 'express';
import type { LoginStartEvidence, SessionCookieEvidence, SessionLossEvidence } from './diagnostics';
import type { TransactionCookieConfig } from './transaction-cookies';

/** The cookie a login depends on: the transaction cookie at the callback, the session cookie at the start. */
export function sessionCookieEvidence(req: Request, name: string): SessionCookieEvidence | undefined {
  const cookie = req.session?.cookie;
  if (!cookie) return undefined;
  return {
    name,
    ...(cookie.secure !== undefined && { secure: cookie.secure }),
    ...(cookie.sameSite !== undefined && { sameSite: cookie.sameSite }),
    ...(cookie.domain !== undefined && { domain: cookie.domain }),
  };
}

export function loginEvidence(
  req: Request,
  callbackURL: string,
  cookies: TransactionCookieConfig,
  cookie: SessionCookieEvidence | undefined = { name: cookies.base, secure: cookies.secure, sameSite: 'lax' },
): SessionLossEvidence & LoginStartEvidence {
  const cookieHeader = req.headers.cookie;
  const names = cookieHeader ? cookieHeader.split(';').map((c) => c.split('=', 1)[0]!.trim()) : [];
  const trustFn = req.app?.get('trust proxy fn') as
    ((addr: string | undefined, i: number) => boolean) | undefined;
  const forwarded = req.headers['x-forwarded-proto'];
  const protocol = req.protocol === 'https' ? 'https' : 'http';
  return {
    callbackHost: req.headers.host,
    requestHost: req.headers.host,
    callbackProtocol: protocol,
    requestProtocol: protocol,
    forwardedProto: Array.isArray(forwarded) ? forwarded[0] : forwarded,
    trustProxy: typeof trustFn === 'function' ? trustFn(req.socket?.remoteAddress, 0) : false,
    cookieHeaderPresent: cookieHeader !== undefined,
    sessionCookiePresent: names.some((name) => name.startsWith(`${cookies.base}.`)),
    sessionMiddleware: true,
    callbackURL,
    cookie,
  };
}

/** `Sec-Fetch-Dest` of a top-level navigation: not an image, script or frame of another page. */
const NAVIGATION_DESTINATIONS = new Set(['document']);

/**
 * Only a top-level navigation may start a login. Browsers send `Sec-Fetch-Site`, `-Mode` and `-Dest`
 * together; a request without `Sec-Fetch-Site` is not from a browser (curl, an old browser, Node's fetch,
 * which says `Sec-Fetch-Mode: cors` on every request) and may start one too: the threat is a page in the
 * user's browser (an `<img>`, a script, a frame) starting logins behind the user's back.
 */
export function isNavigation(req: Request): boolean {
  if (req.headers['sec-fetch-site'] === undefined) return true;
  const mode = req.headers['sec-fetch-mode'];
  const dest = req.headers['sec-fetch-dest'];
  if (mode !== undefined && mode !== 'navigate') return false;
  if (dest !== undefined && !NAVIGATION_DESTINATIONS.has(String(dest))) return false;
  return true;
}
