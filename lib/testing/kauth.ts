/**
 * The kauth role: `/oauth/authorize` (+ the consent decision), `/oauth/token`, `/oauth/logout` and
 * `/oauth/tokeninfo`, with Kakao's validation order, KOE codes and error shapes.
 */
import { createHash } from 'node:crypto';
import { consentPage, errorPage } from './pages';
import { SESSION_COOKIE, avatarPath, avatarUrl, secretEquals, type Runtime } from './runtime';
import type { PendingAuthorization } from './state';
import { canGrant, findByHint, type UserRecord } from './users';
import {
  appendQuery,
  htmlReply,
  isAbsoluteHttpUrl,
  jsonReply,
  param,
  params,
  redirectReply,
  repeatedParam,
  type Incoming,
  type Reply,
} from './wire';

const FORM = 'application/x-www-form-urlencoded';
const DAY_MS = 24 * 60 * 60 * 1000;
/** Kakao rotates a refresh token on use only when it has less than this left. */
const ROTATION_THRESHOLD_MS = 30 * DAY_MS;
const PROMPTS = new Set(['login', 'none', 'create', 'select_account', 'cert']);
const AUTHORIZE_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'prompt',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'login_hint',
];
const TOKEN_PARAMS = [
  'grant_type',
  'client_id',
  'client_secret',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
];

/** What an authorization request asks for, once validated. */
type AuthorizationRequest = Omit<PendingAuthorization, 'id' | 'expiresAt' | 'preselectedUserId'>;

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

function isRegistered(list: readonly string[] | undefined, uri: string): boolean {
  return list ? list.includes(uri) : isAbsoluteHttpUrl(uri);
}

/** Kakao's docs show comma-separated scopes, its SDKs send space-separated ones: accept both. */
function splitList(raw: string): string[] {
  return [...new Set(raw.split(/[\s,]+/).filter((item) => item !== ''))];
}

function shorten(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Requested items the user could agree to but has not yet (`openid` needs no consent). */
function missingConsent(user: UserRecord, scopes: readonly string[]): boolean {
  return scopes.some(
    (item) => item !== 'openid' && canGrant(user, item) && !user.agreedScopes.includes(item),
  );
}

/** Links the user, records consent, issues a code and redirects back to the app. */
function approve(
  rt: Runtime,
  request: AuthorizationRequest,
  user: UserRecord,
  newlyAgreed: readonly string[],
  authTime: number,
  headers: Record<string, string> = {},
): Reply {
  rt.state.link(user, newlyAgreed);
  const openid = request.scopes.includes('openid') || rt.settings.oidc;
  // Kakao lists `openid` first, then the agreed items in console order.
  const granted = rt.settings.consentItems.filter(
    (item) => item !== 'openid' && user.agreedScopes.includes(item),
  );
  if (openid) granted.unshift('openid');
  const code = rt.state.issueCode({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
    scopes: granted,
    userId: user.id,
    authTime,
    withIdToken: openid,
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
  const q = inc.query;
  const clientId = param(q, 'client_id');
  if (clientId !== rt.settings.clientID) {
    return errorPageReply(400, 'KOE101', `Not exist client_id [${shorten(clientId ?? '')}]`);
  }
  const redirectUri = param(q, 'redirect_uri');
  if (
    redirectUri === undefined ||
    Array.isArray(q.redirect_uri) ||
    !isRegistered(rt.settings.redirectUris, redirectUri)
  ) {
    return errorPageReply(400, 'KOE006', 'redirect_uri is not registered for this app.');
  }
  const state = param(q, 'state');
  const fail = (error: string, description: string): Reply =>
    redirectReply(
      appendQuery(redirectUri, [
        ['error', error],
        ['error_description', description],
        ['state', state],
      ]),
    );
  const repeated = repeatedParam(q, AUTHORIZE_PARAMS);
  if (repeated) return fail('invalid_request', `parameter ${repeated} is repeated`);
  const responseType = param(q, 'response_type');
  if (responseType === 'token')
    return fail('invalid_request', 'Implicit grant is not supported (response_type=token).');
  if (responseType !== 'code')
    return fail('invalid_request', `Unsupported response type: ${shorten(responseType ?? '')}`);

  const scopeParam = param(q, 'scope');
  const requested = scopeParam === undefined ? undefined : splitList(scopeParam);
  const unknown = requested?.find((item) => !rt.settings.consentItems.includes(item));
  if (unknown !== undefined) return fail('invalid_scope', `Invalid scope: ${shorten(unknown)}`);
  // Without `scope` Kakao asks for every item configured in the console.
  const scopes = requested ?? rt.settings.consentItems.filter((item) => item !== 'openid');

  const prompts = splitList(param(q, 'prompt') ?? '');
  const badPrompt = prompts.find((prompt) => !PROMPTS.has(prompt));
  if (badPrompt !== undefined) return fail('invalid_request', `Unsupported prompt: ${shorten(badPrompt)}`);
  if (prompts.includes('none') && prompts.length > 1)
    return fail('invalid_request', 'prompt=none cannot be combined');

  const codeChallenge = param(q, 'code_challenge');
  const challengeMethod = param(q, 'code_challenge_method');
  if (codeChallenge !== undefined || challengeMethod !== undefined) {
    if (challengeMethod !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    if (codeChallenge === undefined || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) {
      return fail('invalid_request', 'code_challenge must be the base64url SHA-256 of the code_verifier');
    }
  }
  const nonce = param(q, 'nonce');
  if (nonce !== undefined && nonce.length > 512) return fail('invalid_request', 'nonce is too long');
  const loginHint = param(q, 'login_hint');
  const request: AuthorizationRequest = {
    clientId,
    redirectUri,
    state,
    scopes,
    codeChallenge,
    nonce,
    loginHint,
  };

  const session = rt.state.sessionUser(inc.cookies.get(SESSION_COOKIE));
  if (prompts.includes('none')) {
    if (!session) return fail('login_required', 'user authentication required.');
    if (!session.user.linked || missingConsent(session.user, scopes)) {
      return fail('consent_required', 'user consent required.');
    }
    return approve(rt, request, session.user, [], session.authTime);
  }
  const interactive = prompts.some((prompt) => prompt !== 'none');
  if (!interactive && session && session.user.linked && !missingConsent(session.user, scopes)) {
    return approve(rt, request, session.user, [], session.authTime);
  }
  const users = [...rt.state.users.values()];
  if (rt.settings.autoApprove) {
    const user =
      findByHint(users, loginHint) ??
      (rt.settings.autoApproveUserId === undefined
        ? undefined
        : rt.state.users.get(rt.settings.autoApproveUserId)) ??
      users[0];
    if (!user) return errorPageReply(500, 'KOE003', 'The emulator has no users.');
    const sessionId = rt.state.createSession(user.id);
    rt.state.deleteSession(inc.cookies.get(SESSION_COOKIE));
    const grant = scopes.filter((item) => item !== 'openid' && canGrant(user, item));
    return approve(rt, request, user, grant, rt.state.now(), { 'Set-Cookie': sessionCookie(sessionId) });
  }
  const pending = rt.state.createPending({
    ...request,
    preselectedUserId: findByHint(users, loginHint)?.id ?? session?.user.id,
  });
  const target = new URL(redirectUri);
  const { html, csp } = consentPage({
    requestId: pending.id,
    serviceHost: target.host,
    redirectOrigin: target.origin,
    users,
    preselectedUserId: pending.preselectedUserId,
    items: scopes.filter((item) => item !== 'openid'),
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
  if (action === 'cancel') {
    return redirectReply(
      appendQuery(pending.redirectUri, [
        ['error', 'access_denied'],
        ['error_description', 'User denied access'],
        ['state', pending.state],
      ]),
    );
  }
  if (action !== 'accept') return errorPageReply(400, 'KOE001', 'Unknown action.');
  const user = rt.state.users.get(param(inc.form, 'user_id') ?? '');
  if (!user) return errorPageReply(400, 'KOE001', 'Choose one of the listed Kakao accounts.');
  const chosen = params(inc.form, 'scope');
  const agreed = pending.scopes.filter(
    (item) => item !== 'openid' && chosen.includes(item) && canGrant(user, item),
  );
  rt.state.deleteSession(inc.cookies.get(SESSION_COOKIE));
  const sessionId = rt.state.createSession(user.id);
  return approve(rt, pending, user, agreed, rt.state.now(), { 'Set-Cookie': sessionCookie(sessionId) });
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

const TOKEN_HEADERS = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

function oauthError(status: number, error: string, description: string, code?: string, headers = {}): Reply {
  return jsonReply(
    status,
    { error, error_description: description, error_code: code },
    { ...TOKEN_HEADERS, ...headers },
  );
}

function invalidClient(rt: Runtime, code: string, description: string): Reply {
  const status = rt.settings.invalidClientStatus;
  return oauthError(status, 'invalid_client', description, code, {
    'WWW-Authenticate': 'Bearer realm="oauth", error="invalid_client"',
  });
}

function rateLimited(): Reply {
  return oauthError(400, 'invalid_request', 'token request rate limit exceeded', 'KOE237');
}

async function idToken(
  rt: Runtime,
  user: UserRecord,
  scopes: readonly string[],
  authTime: number,
  nonce: string | undefined,
  accessToken: string,
): Promise<string> {
  const iat = Math.floor(rt.state.now() / 1000);
  const agreed = (item: string): boolean => scopes.includes(item) && user.agreedScopes.includes(item);
  const claims = {
    iss: rt.issuer,
    aud: rt.settings.clientID,
    sub: user.id,
    iat,
    exp: iat + rt.settings.accessTokenTtlSeconds,
    auth_time: Math.floor(authTime / 1000),
    nonce,
    nickname: agreed('profile_nickname') ? user.nickname : undefined,
    picture: agreed('profile_image') ? avatarUrl(rt, user, 110) : undefined,
    email: agreed('account_email') && user.emailValid && user.emailVerified ? user.email : undefined,
  };
  const token = await rt.keys.issue(claims, {
    accessToken,
    hmacSecret: rt.settings.clientSecret ?? rt.settings.clientID,
  });
  rt.state.recordSecret(token);
  return token;
}

/** `POST /oauth/token`: authorization_code and refresh_token grants, `client_secret_post` only. */
export async function token(inc: Incoming, rt: Runtime): Promise<Reply> {
  if (inc.method !== 'POST') {
    return oauthError(405, 'invalid_request', 'Use POST for /oauth/token.', 'KOE001', { Allow: 'POST' });
  }
  if (inc.contentType !== FORM) {
    return oauthError(
      400,
      'invalid_request',
      'Content-Type must be application/x-www-form-urlencoded',
      'KOE001',
    );
  }
  const form = inc.form;
  const repeated = repeatedParam(form, TOKEN_PARAMS);
  if (repeated) return oauthError(400, 'invalid_request', `parameter ${repeated} is repeated`, 'KOE001');
  const clientId = param(form, 'client_id');
  if (clientId !== rt.settings.clientID)
    return invalidClient(rt, 'KOE101', `Not exist client_id [${shorten(clientId ?? '')}]`);
  if (
    rt.settings.clientSecret !== undefined &&
    !secretEquals(param(form, 'client_secret'), rt.settings.clientSecret)
  ) {
    return invalidClient(rt, 'KOE010', 'Bad client credentials');
  }
  const grantType = param(form, 'grant_type');
  if (grantType === 'authorization_code') return codeGrant(inc, rt, clientId);
  if (grantType === 'refresh_token') return refreshGrant(inc, rt, clientId);
  if (grantType === undefined) return oauthError(400, 'invalid_request', 'grant_type is required', 'KOE001');
  return jsonReply(
    400,
    { error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${shorten(grantType)}` },
    TOKEN_HEADERS,
  );
}

async function codeGrant(inc: Incoming, rt: Runtime, clientId: string): Promise<Reply> {
  const code = param(inc.form, 'code') ?? '';
  // Kakao echoes the code in this message; clients must redact it, which is why the emulator does the same.
  const notFound = (): Reply =>
    oauthError(400, 'invalid_grant', `authorization code not found for code=${shorten(code, 512)}`, 'KOE320');
  const record = code === '' ? undefined : rt.state.consumeCode(code);
  if (!record || record.clientId !== clientId) return notFound();
  if (param(inc.form, 'redirect_uri') !== record.redirectUri) {
    return oauthError(400, 'invalid_grant', 'Redirect URI mismatch.', 'KOE303');
  }
  if (record.codeChallenge !== undefined) {
    const verifier = param(inc.form, 'code_verifier');
    if (
      verifier === undefined ||
      !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
      s256(verifier) !== record.codeChallenge
    ) {
      return oauthError(
        400,
        'invalid_grant',
        'PKCE verification failed (code_verifier).',
        rt.settings.pkceErrorCode,
      );
    }
  }
  const user = rt.state.users.get(record.userId);
  if (!user || !user.linked) return notFound();
  if (!rt.state.admitIssuance(user.id, 1, 1)) return rateLimited();
  const refreshToken = rt.state.issueRefreshToken({
    userId: user.id,
    clientId,
    scopes: record.scopes,
    withIdToken: record.withIdToken,
    authTime: record.authTime,
  });
  const accessToken = rt.state.issueAccessToken({
    userId: user.id,
    clientId,
    scopes: record.scopes,
    refreshToken,
  });
  return jsonReply(
    200,
    {
      token_type: 'bearer',
      access_token: accessToken,
      id_token: record.withIdToken
        ? await idToken(rt, user, record.scopes, record.authTime, record.nonce, accessToken)
        : undefined,
      expires_in: rt.settings.accessTokenTtlSeconds,
      refresh_token: refreshToken,
      refresh_token_expires_in: rt.settings.refreshTokenTtlSeconds,
      scope: record.scopes.join(' '),
    },
    TOKEN_HEADERS,
  );
}

async function refreshGrant(inc: Incoming, rt: Runtime, clientId: string): Promise<Reply> {
  const presented = param(inc.form, 'refresh_token');
  if (!presented) return oauthError(400, 'invalid_grant', 'refresh_token is required', 'KOE319');
  const record = rt.state.findRefreshToken(presented);
  const user = record ? rt.state.users.get(record.userId) : undefined;
  if (!record || record.clientId !== clientId || !user || !user.linked) {
    return oauthError(400, 'invalid_grant', 'expired_or_invalid_refresh_token', 'KOE322');
  }
  const rotate = record.expiresAt - rt.state.now() < ROTATION_THRESHOLD_MS;
  if (!rt.state.admitIssuance(user.id, 1, rotate ? 1 : 0)) return rateLimited();
  let refreshToken: string | undefined;
  if (rotate) {
    rt.state.revokeRefreshToken(presented);
    refreshToken = rt.state.issueRefreshToken({
      userId: user.id,
      clientId,
      scopes: record.scopes,
      withIdToken: record.withIdToken,
      authTime: record.authTime,
    });
  }
  const accessToken = rt.state.issueAccessToken({
    userId: user.id,
    clientId,
    scopes: record.scopes,
    refreshToken: refreshToken ?? presented,
  });
  return jsonReply(
    200,
    {
      token_type: 'bearer',
      access_token: accessToken,
      id_token: record.withIdToken
        ? await idToken(rt, user, record.scopes, record.authTime, undefined, accessToken)
        : undefined,
      expires_in: rt.settings.accessTokenTtlSeconds,
      refresh_token: refreshToken,
      refresh_token_expires_in: refreshToken === undefined ? undefined : rt.settings.refreshTokenTtlSeconds,
    },
    TOKEN_HEADERS,
  );
}

/** `POST /oauth/tokeninfo`: decodes an ID token this emulator issued (KOE400 otherwise). */
export async function tokenInfo(inc: Incoming, rt: Runtime): Promise<Reply> {
  const invalid = (): Reply => oauthError(400, 'invalid_token', 'invalid id_token', 'KOE400');
  if (inc.method !== 'POST' || inc.contentType !== FORM) return invalid();
  const claims = await rt.keys.verify(param(inc.form, 'id_token') ?? '');
  if (!claims || typeof claims.exp !== 'number' || claims.exp * 1000 <= rt.state.now()) return invalid();
  return jsonReply(200, claims);
}
