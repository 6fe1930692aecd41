/**
 * The kauth token role: `POST /oauth/token` (authorization_code and refresh_token grants, Kakao's
 * validation order, KOE codes, rotation, issuance limits, ID tokens) and `POST /oauth/tokeninfo`.
 */
import { createHash } from 'node:crypto';
import { avatarUrl, secretEquals, type Runtime } from './runtime';
import type { UserRecord } from './users';
import { jsonReply, param, repeatedParam, type Incoming, type Reply } from './wire';

const FORM = 'application/x-www-form-urlencoded';
const DAY_MS = 24 * 60 * 60 * 1000;
/** Kakao rotates a refresh token on use only when it has less than this left. */
const ROTATION_THRESHOLD_MS = 30 * DAY_MS;
const TOKEN_PARAMS = [
  'grant_type',
  'client_id',
  'client_secret',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
];

function shorten(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
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
