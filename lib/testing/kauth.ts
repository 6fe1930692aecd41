/**
 * The kauth login role: `GET /oauth/authorize` with Kakao's validation order and consent rules, the
 * consent screen's decision, the control API's server-side decision (`loginAs`), and `GET /oauth/logout`.
 *
 * Consent follows Kakao: at a user's first login Kakao asks for the consent items configured in the
 * console; a linked user logs in without any consent screen; `scope` asks again only for the listed items
 * the user has not agreed to. Misconfiguration (unknown client, unregistered redirect URI, a consent item
 * the console does not have) stops on an error page and never redirects back.
 */
import { consentPage, errorPage } from './pages';
import { SESSION_COOKIE, avatarPath, type Runtime } from './runtime';
import { checkAuthorize, isRegistered, shorten, type AuthorizationRequest } from './authorize-request';
import { canGrant, findByHint, type UserRecord } from './users';
import {
  appendQuery,
  htmlReply,
  param,
  params,
  parseParams,
  redirectReply,
  type Incoming,
  type Reply,
} from './wire';

const FORM = 'application/x-www-form-urlencoded';

function errorPageReply(
  status: number,
  koe: string,
  description: string,
  headers: Record<string, string> = {},
): Reply {
  const { html, csp } = errorPage(koe, description);
  return htmlReply(status, html, csp, headers);
}

function sessionCookie(sessionId: string): string {
  return `${SESSION_COOKIE}=${sessionId}; Path=/; HttpOnly; SameSite=Lax`;
}

function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}

/**
 * The consent items a login would ask this user for: at first link every item of the console; for a
 * linked user nothing, unless `scope` names items not agreed yet.
 */
function itemsFor(rt: Runtime, request: AuthorizationRequest, user: UserRecord): string[] {
  if (request.requested === undefined) return user.linked ? [] : [...rt.settings.consentItems];
  return request.requested.filter((item) => item !== 'openid' && !user.agreedScopes.includes(item));
}

/** The service terms a login would ask for: the `service_terms` tags, else every term at first link. */
function termsFor(rt: Runtime, request: AuthorizationRequest, user: UserRecord): string[] {
  const tags = request.serviceTermTags ?? (user.linked ? [] : rt.settings.serviceTerms.map((t) => t.tag));
  return tags.filter((tag) => !user.agreedServiceTerms.some((agreed) => agreed.tag === tag));
}

/** Whether this user would see a consent screen: first link, or `scope` items they could still agree to. */
function needsConsent(rt: Runtime, request: AuthorizationRequest, user: UserRecord): boolean {
  return !user.linked || itemsFor(rt, request, user).some((item) => canGrant(user, item));
}

/** What the user agrees to: the chosen items among those asked, plus the required ones, if grantable. */
function agreedItems(
  rt: Runtime,
  asked: readonly string[],
  chosen: readonly string[],
  user: UserRecord,
): string[] {
  const required = rt.settings.requiredConsentItems;
  return asked.filter((item) => (chosen.includes(item) || required.includes(item)) && canGrant(user, item));
}

function agreedTerms(rt: Runtime, asked: readonly string[], chosen: readonly string[]): string[] {
  const required = rt.settings.serviceTerms.filter((term) => term.required).map((term) => term.tag);
  return asked.filter((tag) => chosen.includes(tag) || required.includes(tag));
}

/** Links the user, records consent, issues a code and redirects back to the app. */
function approve(
  rt: Runtime,
  request: AuthorizationRequest,
  user: UserRecord,
  consent: { items: readonly string[]; terms: readonly string[] },
  authTime: number,
  headers: Record<string, string> = {},
): Reply {
  rt.state.link(user, consent.items, consent.terms);
  // Kakao lists `openid` first, then the agreed items in console order.
  const granted = rt.settings.consentItems.filter((item) => user.agreedScopes.includes(item));
  if (request.withIdToken) granted.unshift('openid');
  const code = rt.state.issueCode({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
    scopes: granted,
    userId: user.id,
    authTime,
    withIdToken: request.withIdToken,
  });
  return redirectReply(
    appendQuery(request.redirectUri, [
      ['code', code],
      ['state', request.state],
    ]),
    headers,
  );
}

/** `GET /oauth/authorize`. */
export function authorize(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'GET')
    return errorPageReply(405, 'KOE002', 'Use GET for /oauth/authorize.', { Allow: 'GET' });
  const checked = checkAuthorize(inc.query, rt);
  if (checked.kind === 'page') return errorPageReply(checked.status, checked.koe, checked.description);
  if (checked.kind === 'redirect') return redirectReply(checked.location);
  const { request, prompts } = checked;
  const fail = (error: string, description: string): Reply =>
    redirectReply(
      appendQuery(request.redirectUri, [
        ['error', error],
        ['error_description', description],
        ['state', request.state],
      ]),
    );
  const none = { items: [], terms: [] };

  const session = rt.state.sessionUser(inc.cookies.get(SESSION_COOKIE));
  if (prompts.includes('none')) {
    if (!session) return fail('login_required', 'user authentication required.');
    if (needsConsent(rt, request, session.user)) return fail('consent_required', 'user consent required.');
    return approve(rt, request, session.user, none, session.authTime);
  }
  const interactive = prompts.length > 0;
  if (!interactive && session && !needsConsent(rt, request, session.user)) {
    return approve(rt, request, session.user, none, session.authTime);
  }
  const users = [...rt.state.users.values()];
  if (rt.settings.autoApprove) {
    const user =
      findByHint(users, request.loginHint) ??
      (rt.settings.autoApproveUserId === undefined
        ? undefined
        : rt.state.users.get(rt.settings.autoApproveUserId)) ??
      users[0];
    if (!user) return errorPageReply(500, 'KOE003', 'The emulator has no users.');
    const sessionId = rt.state.createSession(user.id);
    rt.state.deleteSession(inc.cookies.get(SESSION_COOKIE));
    const items = itemsFor(rt, request, user);
    const terms = termsFor(rt, request, user);
    return approve(
      rt,
      request,
      user,
      { items: agreedItems(rt, items, items, user), terms: agreedTerms(rt, terms, terms) },
      rt.state.now(),
      { 'Set-Cookie': sessionCookie(sessionId) },
    );
  }
  // The screen offers what this login asks the signed-in user for, or, with nobody signed in, what a
  // first login would ask for.
  const pending = rt.state.createPending({
    ...request,
    items: session
      ? itemsFor(rt, request, session.user)
      : (request.requested?.filter((item) => item !== 'openid') ?? [...rt.settings.consentItems]),
    serviceTerms: session
      ? termsFor(rt, request, session.user)
      : (request.serviceTermTags ?? rt.settings.serviceTerms.map((term) => term.tag)),
    preselectedUserId: findByHint(users, request.loginHint)?.id ?? session?.user.id,
  });
  const target = new URL(request.redirectUri);
  const { html, csp } = consentPage({
    requestId: pending.id,
    serviceHost: target.host,
    redirectOrigin: target.origin,
    users,
    preselectedUserId: pending.preselectedUserId,
    items: pending.items,
    requiredItems: rt.settings.requiredConsentItems,
    serviceTerms: rt.settings.serviceTerms.filter((term) => pending.serviceTerms.includes(term.tag)),
    // Relative, so the page also works when the browser reaches the emulator under another host name.
    avatarUrl: (user) => avatarPath(user, 110),
  });
  return htmlReply(200, html, csp);
}

/** `POST /oauth/authorize/decision`: the consent form's Accept or Cancel. */
export function decide(inc: Incoming, rt: Runtime): Reply {
  if (inc.method !== 'POST') return errorPageReply(405, 'KOE002', 'Use POST.', { Allow: 'POST' });
  if (inc.contentType !== FORM)
    return errorPageReply(400, 'KOE001', 'The consent form must be posted as a form.');
  const pending = rt.state.takePending(param(inc.form, 'request_id'));
  if (!pending) {
    return errorPageReply(
      400,
      'KOE001',
      'This login request has expired or was already answered. Start the login again.',
    );
  }
  const action = param(inc.form, 'action');
  if (action === 'cancel') return denied(pending);
  if (action !== 'accept') return errorPageReply(400, 'KOE001', 'Unknown action.');
  const user = rt.state.users.get(param(inc.form, 'user_id') ?? '');
  if (!user) return errorPageReply(400, 'KOE001', 'Choose one of the listed Kakao accounts.');
  const items = itemsFor(rt, pending, user).filter((item) => pending.items.includes(item));
  const terms = termsFor(rt, pending, user).filter((tag) => pending.serviceTerms.includes(tag));
  const consent = {
    items: agreedItems(rt, items, params(inc.form, 'scope'), user),
    terms: agreedTerms(rt, terms, params(inc.form, 'service_terms')),
  };
  rt.state.deleteSession(inc.cookies.get(SESSION_COOKIE));
  const sessionId = rt.state.createSession(user.id);
  return approve(rt, pending, user, consent, rt.state.now(), { 'Set-Cookie': sessionCookie(sessionId) });
}

function denied(request: AuthorizationRequest): Reply {
  return redirectReply(
    appendQuery(request.redirectUri, [
      ['error', 'access_denied'],
      ['error_description', 'User denied access'],
      ['state', request.state],
    ]),
  );
}

/** What the control API's decision asks for. */
export interface ServerDecision {
  /** The authorize URL the app redirected to (its origin and path must be this emulator's). */
  authorizeUrl: string;
  userId: string;
  /** Default `'accept'`. */
  decision?: 'accept' | 'cancel';
  /** Items the user ticks. Default: every item the consent screen would offer this user. */
  scopes?: readonly string[];
  /** Service terms the user ticks. Default: every term the screen would offer. */
  serviceTerms?: readonly string[];
}

/**
 * The decision a user would make on the consent screen, made server-side (`POST /_emulator/authorize`):
 * the same checks as `GET /oauth/authorize`, then Accept or Cancel as `userId`. No Kakao browser session
 * is created. Answers where Kakao would redirect the browser, or the error page it would stop on.
 */
export function decideForUser(
  decision: ServerDecision,
  rt: Runtime,
):
  | { location: string }
  | { page: { status: number; koe: string; description: string } }
  | { badRequest: string } {
  const url = new URL(decision.authorizeUrl);
  if (url.origin !== rt.origin || url.pathname !== '/oauth/authorize') {
    return { badRequest: `"authorizeUrl" must be this emulator's ${rt.origin}/oauth/authorize URL` };
  }
  const checked = checkAuthorize(parseParams(url.search.slice(1)), rt);
  if (checked.kind === 'page') return { page: checked };
  if (checked.kind === 'redirect') return { location: checked.location };
  const user = rt.state.users.get(decision.userId);
  if (!user) return { badRequest: 'no user with that id' };
  const { request } = checked;
  if ((decision.decision ?? 'accept') === 'cancel') return { location: redirectTarget(denied(request)) };
  const items = itemsFor(rt, request, user);
  const terms = termsFor(rt, request, user);
  const consent = {
    items: agreedItems(rt, items, decision.scopes ?? items, user),
    terms: agreedTerms(rt, terms, decision.serviceTerms ?? terms),
  };
  return { location: redirectTarget(approve(rt, request, user, consent, rt.state.now())) };
}

function redirectTarget(reply: Reply): string {
  return String(reply.headers.Location);
}

/** `GET /oauth/logout`: ends the Kakao browser session and goes back to the app. */
export function accountLogout(inc: Incoming, rt: Runtime): Reply {
  const clientId = param(inc.query, 'client_id');
  if (clientId !== rt.settings.clientID) {
    return errorPageReply(400, 'KOE101', `Not exist client_id [${shorten(clientId ?? '')}]`);
  }
  const target = param(inc.query, 'logout_redirect_uri');
  if (target === undefined || !isRegistered(rt.settings.logoutRedirectUris, target)) {
    return errorPageReply(400, 'KOE007', 'logout_redirect_uri is not registered for this app.');
  }
  rt.state.deleteSession(inc.cookies.get(SESSION_COOKIE));
  return redirectReply(appendQuery(target, [['state', param(inc.query, 'state')]]), {
    'Set-Cookie': clearedSessionCookie(),
  });
}
