/**
 * Diagnostics for developers: why a login callback arrived without the session that started it,
 * and which configuration is risky at start-up. Pure functions over plain data (the routes module
 * collects the evidence from the request), so every message can be tested without a server.
 *
 * Messages are fixed texts written here; the only request data they may contain is a host name
 * and port, and only after {@link safeHost} accepted it as one.
 */

/** Options of the express-session cookie, as far as they are known. */
export interface SessionCookieEvidence {
  /** express-session `cookie.secure`. Default (of express-session): false. */
  secure?: boolean | 'auto';
  /** express-session `cookie.sameSite`; `true` means Strict. Default: unset (browsers treat it as Lax). */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** The cookie name (express-session `name`), e.g. `connect.sid` or `__Host-app.sid`. */
  name: string;
  /** express-session `cookie.domain`. Default: unset (host-only cookie). */
  domain?: string;
}

/** What the callback request tells about a lost login session. */
export interface SessionLossEvidence {
  /** The Host header of the callback request (`req.headers.host`), raw. */
  callbackHost: string | undefined;
  /** `req.protocol` of the callback request (respects `trust proxy`). */
  callbackProtocol: 'http' | 'https';
  /** The `X-Forwarded-Proto` header, raw. */
  forwardedProto: string | undefined;
  /** Whether Express trusts the proxy this request came from: `app.get('trust proxy fn')(req.socket.remoteAddress, 0)`. */
  trustProxy: boolean;
  /** Whether the request had any Cookie header. */
  cookieHeaderPresent: boolean;
  /** Whether a cookie with the session cookie's name was sent. */
  sessionCookiePresent: boolean;
  /** Whether `req.session` exists (express-session is mounted before the routes). */
  sessionMiddleware: boolean;
  /** The configured redirect URI. */
  callbackURL: string;
  /** The express-session cookie options, when known. */
  cookie: SessionCookieEvidence | undefined;
}

/** What the login-start request tells about a session cookie that will not come back. */
export interface LoginStartEvidence {
  /** The Host header of the login-start request (`req.headers.host`), raw. */
  requestHost: string | undefined;
  /** `req.protocol` of the login-start request (respects `trust proxy`). */
  requestProtocol: 'http' | 'https';
  /** The `X-Forwarded-Proto` header, raw. */
  forwardedProto: string | undefined;
  /** Whether Express trusts the proxy this request came from. */
  trustProxy: boolean;
  /** The configured redirect URI. */
  callbackURL: string;
  /** The express-session cookie options, when known. */
  cookie: SessionCookieEvidence | undefined;
}

/** The likely cause of a lost login session. */
export type SessionLossCause =
  | 'no_session_middleware'
  | 'samesite_strict'
  | 'secure_cookie_over_http'
  | 'host_mismatch'
  | 'proxy_not_trusted'
  | 'cookie_not_sent'
  | 'session_expired_or_store_lost';

/** A cause and a one-sentence hint naming it and the fix. */
export interface Diagnosis {
  cause: SessionLossCause;
  hint: string;
}

/** Evidence about the configuration, checked once at start-up. */
export interface StartupConfigEvidence {
  /** The configured redirect URI. */
  callbackURL: string;
  /** `process.env.NODE_ENV`. */
  nodeEnv: string | undefined;
  /** Where sessions live. */
  sessionStore: 'memory' | 'redis' | 'other';
  /** Where sealed Kakao tokens live. */
  tokenStore: 'memory' | 'redis' | 'other';
  /** The consent items requested at login. */
  scopes: readonly string[];
  /** The express-session cookie options, when known. */
  cookie?: { secure?: boolean | 'auto'; sameSite?: boolean | 'lax' | 'strict' | 'none' };
  /** The Express `trust proxy` setting. Default: unset (Express trusts no proxy). */
  trustProxy: boolean | number | string | undefined;
  /** Whether a session secret or token key was generated at start-up instead of configured. Default false. */
  generatedSecrets?: boolean;
}

/** Stable codes of {@link startupWarnings}. */
export type StartupWarningCode =
  | 'insecure_callback'
  | 'memory_store_in_production'
  | 'scope_needs_business_app'
  | 'samesite_strict'
  | 'secure_cookie_over_http'
  | 'trust_proxy_unset'
  | 'random_secrets';

/** One start-up warning: a stable code and a message that says what to do. */
export interface StartupWarning {
  code: StartupWarningCode;
  message: string;
}

/**
 * The hint texts of {@link diagnoseSessionLoss} and {@link diagnoseLoginStart}, keyed by variant.
 * Placeholders: `{host}` the request's host (validated), `{expectedHost}` the callback URL's host,
 * `{origin}` the callback URL's origin, `{callbackPath}` its path.
 */
export const SESSION_LOSS_HINTS = Object.freeze({
  no_session_middleware:
    'The login callback reached kakaoAuth without req.session, so the login could not be matched to a session: mount express-session before it, app.use(session({ ... })) then app.use(kakaoAuth({ ... })).',
  host_mismatch:
    "The login callback arrived on {host} but the callback URL is {expectedHost}, so the browser did not send the session cookie set on {expectedHost}; open the app at {origin} (the callback URL's host) and make any proxy pass the original Host header.",
  host_alias:
    "The login callback on {host} arrived without the session cookie, most likely because the login was started under another name for this machine (localhost, 127.0.0.1 and [::1] keep separate cookies); open the app at {origin} (the callback URL's host) and start the login from there.",
  login_start_host_mismatch:
    "The login was started on {host} but the callback URL is {expectedHost}, so the session cookie set on {host} will not be sent to the callback and the login will fail; open the app at {origin} (the callback URL's host).",
  proxy_not_trusted:
    "The request came through a proxy with X-Forwarded-Proto: https but Express does not trust that proxy, so req.protocol is http and express-session does not issue the Secure session cookie; set app.set('trust proxy', 1) (the number of proxies in front of the app, not true).",
  secure_cookie_over_http:
    "The session cookie must be Secure but the login ran over plain http on {host}, so express-session did not issue it; serve the app over https, or in development set cookie.secure to 'auto' and use a cookie name without a __Host- or __Secure- prefix.",
  secure_cookie_behind_tls_proxy:
    "The callback URL is https but the request reached the app as plain http on {host}, so express-session did not issue the Secure session cookie; if a proxy terminates TLS, make it send X-Forwarded-Proto: https and set app.set('trust proxy', 1) (the number of proxies).",
  samesite_strict:
    "The session cookie has SameSite=Strict, so the browser did not send it on the redirect back from Kakao (a cross-site navigation); set cookie.sameSite to 'lax' in the express-session options.",
  samesite_none_insecure:
    "The session cookie has SameSite=None without Secure, which browsers reject, so it never came back with the callback on {host}; set cookie.sameSite to 'lax' in the express-session options.",
  no_cookies:
    'The login callback on {host} arrived without any cookie, so the browser is not storing or sending cookies for this site (cookies blocked in the browser settings or by an extension, or a private window that discarded them); allow cookies for {origin} and start the login again.',
  cookie_not_sent:
    "The login callback on {host} arrived without the session cookie, so the browser blocked or dropped it (cookie settings or an extension, or a cookie domain or path that does not cover {callbackPath}); start the login from {origin} and check the browser's cookie settings and the session cookie's domain and path.",
  session_expired_or_store_lost:
    'The session cookie came back with the callback on {host} but its session holds no login in progress: the session expired or ended, or the app restarted between login and callback (an in-memory session store and a generated session secret do not survive a restart); use a persistent store such as connect-redis with a fixed session secret, then start the login again.',
} as const);

/** The variants of {@link SESSION_LOSS_HINTS}. */
export type SessionLossHintId = keyof typeof SESSION_LOSS_HINTS;

/**
 * The message texts of {@link startupWarnings}, keyed by code. Placeholders: `{origin}` the
 * callback URL's origin, `{stores}` what is kept in memory, `{scopes}` the scopes concerned.
 */
export const STARTUP_WARNING_MESSAGES: Readonly<Record<StartupWarningCode, string>> = Object.freeze({
  insecure_callback:
    'The callback URL {origin} uses http on a host other than localhost, so the authorization code and the session cookie travel unencrypted; use an https callback URL (and register it in the Kakao Developers console).',
  memory_store_in_production:
    'NODE_ENV is production but {stores} kept in memory, which loses them on every restart and does not share them between processes; use Redis (connect-redis for sessions, RedisTokenStore for tokens).',
  scope_needs_business_app:
    "The requested consent items {scopes} are only available to a business app (비즈 앱) or after Kakao's review, and each must be enabled under Kakao Login > Consent items in the Kakao Developers console; until then Kakao answers KOE205 (invalid_scope) and every login fails.",
  samesite_strict:
    "The session cookie has SameSite=Strict: the redirect back from Kakao is a cross-site navigation, so the browser will not send the cookie and every login will fail; set cookie.sameSite to 'lax'.",
  secure_cookie_over_http:
    "The session cookie is Secure but the callback URL {origin} is http, so browsers never get the session cookie and every login will fail; use an https callback URL, or set cookie.secure to 'auto' in development.",
  trust_proxy_unset:
    "The callback URL is https but Express 'trust proxy' is not set: if a proxy in front of the app terminates TLS, req.protocol stays http and express-session will not issue the Secure session cookie, so set app.set('trust proxy', <number of proxies>) (not true); ignore this if Node serves TLS itself.",
  random_secrets:
    'NODE_ENV is production but a session secret or token encryption key was generated at start-up, so every restart logs all users out and makes stored Kakao tokens unreadable, and several processes cannot share them; configure fixed secrets (the example app reads SESSION_SECRET and TOKEN_ENCRYPTION_KEYS).',
});

/**
 * Consent items that Kakao grants only to a business app (비즈 앱) or after review/partnership:
 * email, phone number, name, birth year, shipping address, CI and the verified-identity items.
 * Requesting one the console does not enable gives KOE205.
 */
export const BUSINESS_APP_SCOPES: readonly string[] = Object.freeze([
  'account_email',
  'phone_number',
  'name',
  'birthyear',
  'shipping_address',
  'account_ci',
  'is_korean',
]);

const HOST_PATTERN =
  /^(?:[a-z0-9_](?:[a-z0-9_-]{0,62})?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62})?)*\.?|\[[0-9a-f:.]{2,45}\])(?::\d{1,5})?$/i;

interface ParsedHost {
  /** `host[:port]`, lower-case, default port dropped: safe to print. */
  host: string;
  /** Host name without port (IPv6 in brackets). */
  hostname: string;
}

/**
 * A Host header reduced to `host[:port]` when it is one, else undefined; the header is
 * attacker-controlled, so nothing else of it may reach a log line.
 */
export function safeHost(raw: string | undefined, protocol: 'http' | 'https' = 'http'): string | undefined {
  return parseHost(raw, protocol)?.host;
}

function parseHost(raw: string | undefined, protocol: 'http' | 'https'): ParsedHost | undefined {
  if (typeof raw !== 'string' || raw.length > 261 || !HOST_PATTERN.test(raw)) return undefined;
  try {
    const url = new URL(`${protocol}://${raw}`);
    return { host: url.host, hostname: url.hostname };
  } catch {
    return undefined;
  }
}

interface ParsedCallback {
  protocol: 'http' | 'https';
  host: string;
  hostname: string;
  origin: string;
  path: string;
}

function parseCallback(callbackURL: string): ParsedCallback | undefined {
  try {
    const url = new URL(callbackURL);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return {
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      host: url.host,
      hostname: url.hostname,
      origin: url.origin,
      path: url.pathname,
    };
  } catch {
    return undefined;
  }
}

/** localhost, *.localhost, 127.0.0.0/8 and [::1]: names browsers resolve to this machine. */
function isLoopback(hostname: string): boolean {
  const name = hostname.replace(/\.$/, '');
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '[::1]' ||
    /^127(?:\.\d{1,3}){3}$/.test(name)
  );
}

/** Whether a cookie set for `a` is also sent to `b`: cookies ignore ports, but a Domain attribute can span hosts. */
function sharesCookies(a: string, b: string, domain: string | undefined): boolean {
  if (a === b) return true;
  if (!domain) return false;
  const d = domain.toLowerCase().replace(/^\./, '');
  const covers = (h: string) => h === d || h.endsWith(`.${d}`);
  return d !== '' && covers(a) && covers(b);
}

function firstForwardedProto(raw: string | undefined): string | undefined {
  if (typeof raw !== 'string') return undefined;
  return raw.split(',')[0]?.trim().toLowerCase();
}

/** The cookie needs https: Secure is forced, or its name has a prefix that browsers only accept with Secure. */
function needsHttps(cookie: SessionCookieEvidence): boolean {
  return cookie.secure === true || /^__(?:Host|Secure)-/.test(cookie.name);
}

function sameSite(value: boolean | string | undefined): 'strict' | 'lax' | 'none' | undefined {
  if (value === true) return 'strict';
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  return lower === 'strict' || lower === 'lax' || lower === 'none' ? lower : undefined;
}

function fill(template: string, values: Readonly<Record<string, string>>): string {
  // One pass: a substituted value is never scanned for placeholders again.
  return template.replace(/\{(\w+)\}/g, (match, name: string) => values[name] ?? match);
}

function hintValues(
  host: ParsedHost | undefined,
  callback: ParsedCallback | undefined,
): Record<string, string> {
  return {
    host: host?.host ?? 'an unrecognised host',
    expectedHost: callback?.host ?? 'the callback URL host',
    origin: callback?.origin ?? 'the callback URL origin',
    callbackPath: callback?.path ?? 'the callback path',
  };
}

/**
 * The protocol-related reason why the session cookie is not issued on this request, if any:
 * an untrusted TLS proxy, or a Secure cookie over plain http.
 */
function protocolCause(
  protocol: 'http' | 'https',
  forwardedProto: string | undefined,
  trustProxy: boolean,
  cookie: SessionCookieEvidence | undefined,
  callback: ParsedCallback | undefined,
): SessionLossHintId | undefined {
  if (protocol !== 'http') return undefined;
  // With an unknown cookie configuration a Secure cookie is the likely one behind a TLS proxy.
  const secureNeeded = cookie === undefined || needsHttps(cookie);
  if (firstForwardedProto(forwardedProto) === 'https' && !trustProxy && secureNeeded)
    return 'proxy_not_trusted';
  if (callback?.protocol === 'https' && secureNeeded) return 'secure_cookie_behind_tls_proxy';
  if (cookie !== undefined && needsHttps(cookie)) return 'secure_cookie_over_http';
  return undefined;
}

const CAUSE_OF: Readonly<Record<SessionLossHintId, SessionLossCause>> = Object.freeze({
  no_session_middleware: 'no_session_middleware',
  host_mismatch: 'host_mismatch',
  host_alias: 'host_mismatch',
  login_start_host_mismatch: 'host_mismatch',
  proxy_not_trusted: 'proxy_not_trusted',
  secure_cookie_over_http: 'secure_cookie_over_http',
  secure_cookie_behind_tls_proxy: 'secure_cookie_over_http',
  samesite_strict: 'samesite_strict',
  samesite_none_insecure: 'cookie_not_sent',
  no_cookies: 'cookie_not_sent',
  cookie_not_sent: 'cookie_not_sent',
  session_expired_or_store_lost: 'session_expired_or_store_lost',
});

function diagnosis(id: SessionLossHintId, values: Record<string, string>): Diagnosis {
  return { cause: CAUSE_OF[id], hint: fill(SESSION_LOSS_HINTS[id], values) };
}

/**
 * The most likely reason why a login callback found no login transaction in its session, most
 * specific cause first: no session middleware; the session cookie came back (so the session
 * itself expired or was lost); the callback arrived on another host than the callback URL's; an
 * untrusted TLS proxy or a Secure cookie over http (the cookie was never issued); SameSite=Strict;
 * SameSite=None without Secure; a loopback alias (localhost vs 127.0.0.1); no cookies at all
 * (cookies blocked); otherwise a cookie the browser did not send.
 *
 * @example
 * ```ts
 * const { cause, hint } = diagnoseSessionLoss({
 *   callbackHost: 'localhost:3000', callbackProtocol: 'http', forwardedProto: undefined, trustProxy: false,
 *   cookieHeaderPresent: false, sessionCookiePresent: false, sessionMiddleware: true,
 *   callbackURL: 'http://localhost:3000/auth/kakao/callback', cookie: { name: 'sid', sameSite: 'strict' },
 * });
 * // cause === 'samesite_strict'
 * ```
 */
export function diagnoseSessionLoss(evidence: SessionLossEvidence): Diagnosis {
  const callback = parseCallback(evidence.callbackURL);
  const host = parseHost(evidence.callbackHost, callback?.protocol ?? evidence.callbackProtocol);
  const values = hintValues(host, callback);
  const cookie = evidence.cookie;

  if (!evidence.sessionMiddleware) return diagnosis('no_session_middleware', values);
  if (evidence.sessionCookiePresent) return diagnosis('session_expired_or_store_lost', values);
  if (host && callback && !sharesCookies(host.hostname, callback.hostname, cookie?.domain)) {
    return diagnosis('host_mismatch', values);
  }
  const protocolHint = protocolCause(
    evidence.callbackProtocol,
    evidence.forwardedProto,
    evidence.trustProxy,
    cookie,
    callback,
  );
  if (protocolHint) return diagnosis(protocolHint, values);
  const policy = sameSite(cookie?.sameSite);
  if (policy === 'strict') return diagnosis('samesite_strict', values);
  if (policy === 'none') {
    const secure =
      cookie?.secure === true || (cookie?.secure === 'auto' && evidence.callbackProtocol === 'https');
    if (!secure) return diagnosis('samesite_none_insecure', values);
  }
  if (callback && isLoopback(callback.hostname)) return diagnosis('host_alias', values);
  if (!evidence.cookieHeaderPresent) return diagnosis('no_cookies', values);
  return diagnosis('cookie_not_sent', values);
}

/**
 * Checks a login-start request for a session cookie that certainly will not come back with the
 * callback: a host whose cookies the callback URL's host does not receive, an untrusted TLS
 * proxy, or a Secure cookie over plain http. Undefined when nothing is wrong.
 *
 * @example
 * ```ts
 * diagnoseLoginStart({
 *   requestHost: '127.0.0.1:3000', requestProtocol: 'http', forwardedProto: undefined, trustProxy: false,
 *   callbackURL: 'http://localhost:3000/auth/kakao/callback', cookie: { name: 'sid' },
 * }); // { cause: 'host_mismatch', hint: 'The login was started on 127.0.0.1:3000 but …' }
 * ```
 */
export function diagnoseLoginStart(evidence: LoginStartEvidence): Diagnosis | undefined {
  const callback = parseCallback(evidence.callbackURL);
  const host = parseHost(evidence.requestHost, callback?.protocol ?? evidence.requestProtocol);
  const values = hintValues(host, callback);
  if (host && callback && !sharesCookies(host.hostname, callback.hostname, evidence.cookie?.domain)) {
    return diagnosis('login_start_host_mismatch', values);
  }
  // Only certain causes here: with an unknown cookie configuration this runs on every login start.
  if (evidence.cookie === undefined) return undefined;
  const protocolHint = protocolCause(
    evidence.requestProtocol,
    evidence.forwardedProto,
    evidence.trustProxy,
    evidence.cookie,
    callback,
  );
  return protocolHint && diagnosis(protocolHint, values);
}

function needsBusinessApp(scope: string): boolean {
  const id = scope.toLowerCase();
  return BUSINESS_APP_SCOPES.includes(id) || /^legal_[a-z0-9_]{1,40}$/.test(id);
}

function trustProxySet(value: StartupConfigEvidence['trustProxy']): boolean {
  return !(value === undefined || value === false || value === 0 || value === '');
}

/**
 * Risky configuration (the pure check behind `startupWarnings()`), in a stable order, each with a code and a message that says what to do:
 * `insecure_callback`, `memory_store_in_production`, `scope_needs_business_app`, `samesite_strict`,
 * `secure_cookie_over_http`, `trust_proxy_unset`, `random_secrets`. Empty when nothing is risky.
 *
 * @example
 * ```ts
 * import type { Express } from 'express';
 * declare const app: Express;
 * declare const callbackURL: string;
 * declare const logger: KakaoLogger;
 * for (const w of configWarnings({ callbackURL, nodeEnv: process.env.NODE_ENV, sessionStore: 'redis',
 *   tokenStore: 'redis', scopes: ['profile_nickname'], trustProxy: app.get('trust proxy') })) {
 *   logger({ level: 'warn', event: 'config_warning', reason: w.code, hint: w.message });
 * }
 * ```
 */
export function configWarnings(evidence: StartupConfigEvidence): StartupWarning[] {
  const warnings: StartupWarning[] = [];
  const warn = (code: StartupWarningCode, values: Record<string, string> = {}) =>
    warnings.push({ code, message: fill(STARTUP_WARNING_MESSAGES[code], values) });
  const callback = parseCallback(evidence.callbackURL);
  const production = evidence.nodeEnv === 'production';

  if (callback?.protocol === 'http' && !isLoopback(callback.hostname)) {
    warn('insecure_callback', { origin: callback.origin });
  }
  if (production) {
    const session = evidence.sessionStore === 'memory';
    const tokens = evidence.tokenStore === 'memory';
    if (session || tokens) {
      warn('memory_store_in_production', {
        stores:
          session && tokens ? 'sessions and Kakao tokens are' : session ? 'sessions are' : 'Kakao tokens are',
      });
    }
  }
  const business = [...new Set(evidence.scopes.filter(needsBusinessApp))];
  if (business.length > 0) warn('scope_needs_business_app', { scopes: business.join(', ') });
  if (sameSite(evidence.cookie?.sameSite) === 'strict') warn('samesite_strict');
  if (evidence.cookie?.secure === true && callback?.protocol === 'http') {
    warn('secure_cookie_over_http', { origin: callback.origin });
  }
  if (callback?.protocol === 'https' && !trustProxySet(evidence.trustProxy)) warn('trust_proxy_unset');
  if (production && evidence.generatedSecrets === true) warn('random_secrets');
  return warnings;
}
