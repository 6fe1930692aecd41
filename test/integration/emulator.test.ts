import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KakaoUserMeResponse } from '../../lib/kakao-types';
import {
  createKakaoEmulator,
  type KakaoEmulator,
  type KakaoEmulatorOptions,
} from 'kakao-login-express/testing';

const REDIRECT_URI = 'http://app.test/auth/kakao/callback';
const MINJI = '4120937465';
const JIHO = '1376016924429759228';
const SEOYEON = '3000000003';
const DAY_S = 24 * 60 * 60;

const running: KakaoEmulator[] = [];

async function start(options: KakaoEmulatorOptions = {}): Promise<KakaoEmulator> {
  const emulator = await createKakaoEmulator({ redirectUris: [REDIRECT_URI], ...options });
  running.push(emulator);
  return emulator;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

function authorizeUrl(emulator: KakaoEmulator, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: emulator.clientID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    ...extra,
  });
  return `${emulator.authOrigin}/oauth/authorize?${query.toString()}`;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers });
}

function postForm(
  url: string,
  fields: Record<string, string> | [string, string][],
  headers: Record<string, string> = {},
) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

function locationOf(response: Response): URL {
  const location = response.headers.get('location');
  if (!location) throw new Error(`expected a redirect, got ${response.status}`);
  return new URL(location);
}

function sessionCookieOf(response: Response): string {
  const cookie = response.headers.getSetCookie().find((value) => value.startsWith('_kawlt_emu='));
  if (!cookie) throw new Error('no Kakao session cookie');
  return cookie.split(';')[0]!;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Opens the consent page and returns its one-time request id. */
async function openConsent(emulator: KakaoEmulator, extra: Record<string, string> = {}, cookie?: string) {
  const response = await get(authorizeUrl(emulator, extra), cookie ? { cookie } : {});
  expect(response.status).toBe(200);
  const html = await response.text();
  const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1];
  if (!requestId) throw new Error('no request id on the consent page');
  return { response, html, requestId };
}

function decide(emulator: KakaoEmulator, fields: [string, string][], cookie?: string): Promise<Response> {
  return postForm(`${emulator.authOrigin}/oauth/authorize/decision`, fields, cookie ? { cookie } : {});
}

/** Full interactive login; returns the code and the Kakao session cookie. */
async function login(
  emulator: KakaoEmulator,
  {
    userId = MINJI,
    extra = {},
    scopes,
  }: { userId?: string; extra?: Record<string, string>; scopes?: string[] } = {},
): Promise<{ code: string; cookie: string; redirect: URL }> {
  const { html, requestId } = await openConsent(emulator, extra);
  const offered =
    scopes ?? [...html.matchAll(/name="scope" id="[^"]+" value="([^"]+)"/g)].map((match) => match[1]!);
  const response = await decide(emulator, [
    ['request_id', requestId],
    ['user_id', userId],
    ['action', 'accept'],
    ...offered.map((scope): [string, string] => ['scope', scope]),
  ]);
  expect(response.status).toBe(302);
  const redirect = locationOf(response);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`login failed: ${redirect.search}`);
  return { code, cookie: sessionCookieOf(response), redirect };
}

async function tokenCall(emulator: KakaoEmulator, fields: Record<string, string>) {
  const response = await postForm(`${emulator.authOrigin}/oauth/token`, {
    client_id: emulator.clientID,
    ...fields,
  });
  return { response, json: (await response.json()) as Record<string, unknown> };
}

function exchange(emulator: KakaoEmulator, code: string, extra: Record<string, string> = {}) {
  return tokenCall(emulator, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    ...extra,
  });
}

async function tokensFor(emulator: KakaoEmulator, userId = MINJI) {
  const { code } = await login(emulator, { userId });
  const { json } = await exchange(emulator, code);
  return { accessToken: json.access_token as string, refreshToken: json.refresh_token as string };
}

function kapi(
  emulator: KakaoEmulator,
  path: string,
  authorization: string,
  method = 'GET',
  form?: Record<string, string>,
) {
  return fetch(`${emulator.apiOrigin}${path}`, {
    method,
    headers: {
      Authorization: authorization,
      ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
}

async function userMe(emulator: KakaoEmulator, accessToken: string): Promise<KakaoUserMeResponse> {
  return (await (await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).json()) as KakaoUserMeResponse;
}

describe('authorize request validation', () => {
  test('an unknown client_id gets a KOE101 error page, never a redirect', async () => {
    const emulator = await start();
    const response = await get(authorizeUrl(emulator, { client_id: 'wrong-key' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('KOE101');
  });

  test('an unregistered redirect_uri gets a KOE006 error page, never a redirect', async () => {
    const emulator = await start();
    const url = authorizeUrl(emulator).replace(
      encodeURIComponent(REDIRECT_URI),
      encodeURIComponent(`${REDIRECT_URI}/x`),
    );
    const response = await get(url);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('KOE006');
  });

  test('without registered redirect URIs any absolute http(s) URI is accepted, relative ones are not', async () => {
    const emulator = await start({ redirectUris: undefined });
    expect((await get(authorizeUrl(emulator, { redirect_uri: 'http://localhost:3000/cb' }))).status).toBe(
      200,
    );
    expect((await get(authorizeUrl(emulator, { redirect_uri: '/cb' }))).status).toBe(400);
  });

  test('response_type=token and other response types redirect back with invalid_request and the state', async () => {
    const emulator = await start();
    for (const responseType of ['token', 'id_token']) {
      const redirect = locationOf(
        await get(authorizeUrl(emulator, { response_type: responseType, state: 's1' })),
      );
      expect(redirect.origin + redirect.pathname).toBe(REDIRECT_URI);
      expect(redirect.searchParams.get('error')).toBe('invalid_request');
      expect(redirect.searchParams.get('error_description')).toBeTruthy();
      expect(redirect.searchParams.get('state')).toBe('s1');
    }
  });

  test('a scope id the console does not have stops on a KOE205 error page, never a redirect; both separators work', async () => {
    const emulator = await start({ consentItems: ['profile_nickname', 'profile_image'] });
    const response = await get(authorizeUrl(emulator, { scope: 'profile_nickname,gender', state: 'x' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('KOE205');
    expect(html).toContain('Invalid scope: gender');
    expect((await get(authorizeUrl(emulator, { scope: 'profile_nickname profile_image' }))).status).toBe(200);
    expect((await get(authorizeUrl(emulator, { scope: 'profile_nickname,profile_image' }))).status).toBe(200);
  });

  test('PKCE accepts only S256 with a well-formed challenge', async () => {
    const emulator = await start();
    const plain = locationOf(
      await get(authorizeUrl(emulator, { code_challenge: pkce().challenge, code_challenge_method: 'plain' })),
    );
    expect(plain.searchParams.get('error')).toBe('invalid_request');
    const short = locationOf(
      await get(authorizeUrl(emulator, { code_challenge: 'abc', code_challenge_method: 'S256' })),
    );
    expect(short.searchParams.get('error')).toBe('invalid_request');
  });

  test('an unknown prompt value redirects with invalid_request', async () => {
    const emulator = await start();
    const redirect = locationOf(await get(authorizeUrl(emulator, { prompt: 'login,bogus' })));
    expect(redirect.searchParams.get('error')).toBe('invalid_request');
  });
});

describe('consent page and decision', () => {
  test('the consent page offers every user, the requested items, Accept and Cancel, and no PKCE challenge', async () => {
    const emulator = await start();
    const { challenge } = pkce();
    const { response, html } = await openConsent(emulator, {
      scope: 'profile_nickname,account_email',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      login_hint: 'jiho@example.test',
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain('form-action');
    expect(csp).toContain('http://app.test');
    expect(csp).not.toContain('unsafe-inline');
    expect(html).not.toContain('<script');
    expect(html).toContain('동의하고 계속하기');
    expect(html).toContain('취소');
    for (const id of [MINJI, JIHO, SEOYEON]) expect(html).toContain(`value="${id}"`);
    expect(html).toMatch(new RegExp(`value="${JIHO}" required checked`));
    expect(html).toContain('value="profile_nickname" checked');
    expect(html).toContain('value="account_email" checked');
    expect(html).not.toContain('value="gender"');
    expect(html).not.toContain(challenge);
  });

  test('Accept redirects with a long single-use code and the state, and sets the Kakao session cookie', async () => {
    const emulator = await start();
    const { requestId } = await openConsent(emulator, { state: 'a b&c=d/é', scope: 'profile_nickname' });
    const response = await decide(emulator, [
      ['request_id', requestId],
      ['user_id', MINJI],
      ['action', 'accept'],
      ['scope', 'profile_nickname'],
    ]);
    expect(response.status).toBe(302);
    const redirect = locationOf(response);
    expect(redirect.origin + redirect.pathname).toBe(REDIRECT_URI);
    expect(redirect.searchParams.get('state')).toBe('a b&c=d/é');
    expect(redirect.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const cookie = response.headers.getSetCookie().find((value) => value.startsWith('_kawlt_emu='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    expect(emulator.getUser(MINJI)).toMatchObject({ linked: true, agreedScopes: ['profile_nickname'] });
    expect(emulator.getUser(MINJI)?.connectedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test('without a state the redirect carries no state parameter', async () => {
    const emulator = await start();
    const { redirect } = await login(emulator);
    expect(redirect.searchParams.has('state')).toBe(false);
  });

  test('a consent request id works once', async () => {
    const emulator = await start();
    const { requestId } = await openConsent(emulator);
    const fields: [string, string][] = [
      ['request_id', requestId],
      ['user_id', MINJI],
      ['action', 'accept'],
    ];
    expect((await decide(emulator, fields)).status).toBe(302);
    const again = await decide(emulator, fields);
    expect(again.status).toBe(400);
    expect(again.headers.get('location')).toBeNull();
  });

  test('Cancel redirects with access_denied and "User denied access" encoded with %20', async () => {
    const emulator = await start();
    const { requestId } = await openConsent(emulator, { state: 'st-1' });
    const response = await decide(emulator, [
      ['request_id', requestId],
      ['action', 'cancel'],
    ]);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(
      `${REDIRECT_URI}?error=access_denied&error_description=User%20denied%20access&state=st-1`,
    );
  });

  test('items the chosen user cannot grant are not agreed even when posted', async () => {
    const emulator = await start();
    await login(emulator, { userId: SEOYEON, scopes: ['profile_nickname', 'account_email'] });
    expect(emulator.getUser(SEOYEON)?.agreedScopes).toEqual(['profile_nickname']);
  });

  test('autoApprove skips the consent page and signs in as the configured user', async () => {
    const emulator = await start({ autoApprove: true, autoApproveUserId: JIHO });
    const response = await get(authorizeUrl(emulator, { state: 'auto', scope: 'profile_nickname' }));
    expect(response.status).toBe(302);
    const redirect = locationOf(response);
    expect(redirect.searchParams.get('state')).toBe('auto');
    const { json } = await exchange(emulator, redirect.searchParams.get('code')!);
    expect(json.scope).toBe('profile_nickname');
    const me = await (await kapi(emulator, '/v2/user/me', `Bearer ${json.access_token as string}`)).text();
    expect(me).toContain(`"id":${JIHO}`);
  });
});

describe('Kakao browser session and prompt', () => {
  test('prompt=none without a Kakao session redirects with login_required', async () => {
    const emulator = await start();
    const redirect = locationOf(await get(authorizeUrl(emulator, { prompt: 'none', state: 'n' })));
    expect(redirect.searchParams.get('error')).toBe('login_required');
    expect(redirect.searchParams.get('state')).toBe('n');
  });

  test('a linked user with a Kakao session is sent back at once, also with prompt=none', async () => {
    const emulator = await start();
    const { cookie } = await login(emulator, { extra: { scope: 'profile_nickname' } });
    for (const extra of [
      { scope: 'profile_nickname' },
      { scope: 'profile_nickname', prompt: 'none' },
    ] as Record<string, string>[]) {
      const response = await get(authorizeUrl(emulator, { ...extra, state: 'again' }), { cookie });
      expect(response.status).toBe(302);
      const redirect = locationOf(response);
      expect(redirect.searchParams.get('code')).toBeTruthy();
      expect(redirect.searchParams.get('state')).toBe('again');
    }
  });

  test('a new consent item shows the consent page again, and prompt=none then answers consent_required', async () => {
    const emulator = await start();
    const { cookie } = await login(emulator, { extra: { scope: 'profile_nickname' } });
    const page = await get(authorizeUrl(emulator, { scope: 'profile_nickname,account_email' }), { cookie });
    expect(page.status).toBe(200);
    const redirect = locationOf(
      await get(authorizeUrl(emulator, { scope: 'profile_nickname,account_email', prompt: 'none' }), {
        cookie,
      }),
    );
    expect(redirect.searchParams.get('error')).toBe('consent_required');
    expect(redirect.searchParams.get('error_description')).toBe('user consent required.');
  });

  test('prompt=none for a session user who is no longer linked answers consent_required', async () => {
    const emulator = await start();
    const { cookie } = await login(emulator);
    await emulator.unlinkFromKakao(MINJI);
    const redirect = locationOf(await get(authorizeUrl(emulator, { prompt: 'none' }), { cookie }));
    expect(redirect.searchParams.get('error')).toBe('consent_required');
  });

  test('prompt=login shows the page even with a session, preselecting the session user', async () => {
    const emulator = await start();
    const { cookie } = await login(emulator, { userId: SEOYEON });
    const { html } = await openConsent(emulator, { prompt: 'login' }, cookie);
    expect(html).toMatch(new RegExp(`value="${SEOYEON}" required checked`));
  });

  test('account logout ends the Kakao session and redirects with the state', async () => {
    const emulator = await start({ logoutRedirectUris: ['http://app.test/'] });
    const { cookie } = await login(emulator);
    const query = new URLSearchParams({
      client_id: emulator.clientID,
      logout_redirect_uri: 'http://app.test/',
      state: 'bye',
    });
    const response = await get(`${emulator.authOrigin}/oauth/logout?${query.toString()}`, { cookie });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('http://app.test/?state=bye');
    expect(response.headers.getSetCookie().join()).toMatch(/_kawlt_emu=;.*Max-Age=0/);
    const after = locationOf(await get(authorizeUrl(emulator, { prompt: 'none' }), { cookie }));
    expect(after.searchParams.get('error')).toBe('login_required');
  });

  test('account logout to an unregistered URI shows a KOE007 page', async () => {
    const emulator = await start({ logoutRedirectUris: ['http://app.test/'] });
    const query = new URLSearchParams({
      client_id: emulator.clientID,
      logout_redirect_uri: 'http://evil.test/',
    });
    const response = await get(`${emulator.authOrigin}/oauth/logout?${query.toString()}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('KOE007');
  });
});

describe('token endpoint', () => {
  test('a code grant answers Kakao’s shape with application/json;charset=UTF-8', async () => {
    const emulator = await start();
    const { code } = await login(emulator, { extra: { scope: 'profile_nickname,account_email' } });
    const { response, json } = await exchange(emulator, code);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(json).toEqual({
      token_type: 'bearer',
      access_token: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/),
      expires_in: 21599,
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/),
      refresh_token_expires_in: 5183999,
      scope: 'profile_nickname account_email',
    });
    expect(emulator.issuedSecrets()).toEqual(
      expect.arrayContaining([code, json.access_token, json.refresh_token]),
    );
  });

  test('a code works once: the second exchange gets KOE320 echoing the code', async () => {
    const emulator = await start();
    const { code } = await login(emulator);
    expect((await exchange(emulator, code)).response.status).toBe(200);
    const { response, json } = await exchange(emulator, code);
    expect(response.status).toBe(400);
    expect(json).toEqual({
      error: 'invalid_grant',
      error_description: `authorization code not found for code=${code}`,
      error_code: 'KOE320',
    });
  });

  test('an expired code gets KOE320', async () => {
    const emulator = await start({ codeTtlSeconds: 60 });
    const { code } = await login(emulator);
    emulator.advanceClock(61_000);
    expect((await exchange(emulator, code)).json.error_code).toBe('KOE320');
  });

  test('a different redirect_uri gets KOE303 and still consumes the code', async () => {
    const emulator = await start();
    const { code } = await login(emulator);
    const mismatch = await exchange(emulator, code, { redirect_uri: `${REDIRECT_URI}/` });
    expect(mismatch.response.status).toBe(400);
    expect(mismatch.json).toMatchObject({ error: 'invalid_grant', error_code: 'KOE303' });
    expect((await exchange(emulator, code)).json.error_code).toBe('KOE320');
  });

  test('PKCE: a missing or wrong code_verifier is rejected, the right one accepted', async () => {
    const emulator = await start();
    const { verifier, challenge } = pkce();
    const extra = { code_challenge: challenge, code_challenge_method: 'S256' };
    const first = await login(emulator, { extra });
    const missing = await exchange(emulator, first.code);
    expect(missing.response.status).toBe(400);
    expect(missing.json).toMatchObject({ error: 'invalid_grant', error_code: 'KOE320' });
    const second = await login(emulator, { extra });
    const wrong = await exchange(emulator, second.code, { code_verifier: pkce().verifier });
    expect(wrong.json.error).toBe('invalid_grant');
    const third = await login(emulator, { extra });
    expect((await exchange(emulator, third.code, { code_verifier: verifier })).response.status).toBe(200);
  });

  test('the PKCE error code is configurable', async () => {
    const emulator = await start({ pkceErrorCode: 'KOE340' });
    const { code } = await login(emulator, {
      extra: { code_challenge: pkce().challenge, code_challenge_method: 'S256' },
    });
    expect((await exchange(emulator, code, { code_verifier: pkce().verifier })).json.error_code).toBe(
      'KOE340',
    );
  });

  test('with a client secret configured, a missing or wrong one gets KOE010 with 401 and WWW-Authenticate', async () => {
    const emulator = await start({ clientSecret: 'the-secret' });
    const { code } = await login(emulator);
    for (const extra of [{}, { client_secret: 'nope' }] as Record<string, string>[]) {
      const { response, json } = await exchange(emulator, code, extra);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(json).toEqual({
        error: 'invalid_client',
        error_description: 'Bad client credentials',
        error_code: 'KOE010',
      });
    }
    expect((await exchange(emulator, code, { client_secret: 'the-secret' })).response.status).toBe(200);
  });

  test('the status of invalid_client is configurable', async () => {
    const emulator = await start({ clientSecret: 'the-secret', invalidClientStatus: 400 });
    const { code } = await login(emulator);
    const { response, json } = await exchange(emulator, code, { client_secret: 'nope' });
    expect(response.status).toBe(400);
    expect(json.error_code).toBe('KOE010');
    const unknownClient = await tokenCall(emulator, {
      client_id: 'other',
      grant_type: 'authorization_code',
      code,
    });
    expect(unknownClient.response.status).toBe(400);
    expect(unknownClient.json).toMatchObject({ error: 'invalid_client', error_code: 'KOE101' });
  });

  test('only form bodies are accepted; unknown grant types are unsupported_grant_type', async () => {
    const emulator = await start();
    const json = await fetch(`${emulator.authOrigin}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', client_id: emulator.clientID }),
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: 'invalid_request' });
    const { response, json: body } = await tokenCall(emulator, { grant_type: 'password' });
    expect(response.status).toBe(400);
    expect(body.error).toBe('unsupported_grant_type');
  });

  test('a refresh with more than 30 days left returns only a new access token (no refresh_token, no scope)', async () => {
    const emulator = await start();
    const { accessToken, refreshToken } = await tokensFor(emulator);
    const { response, json } = await tokenCall(emulator, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(Object.keys(json).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
    expect(json.access_token).not.toBe(accessToken);
    expect(
      (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).response
        .status,
    ).toBe(200);
  });

  test('a refresh with less than 30 days left rotates the refresh token and kills the old one', async () => {
    const emulator = await start();
    const { refreshToken } = await tokensFor(emulator);
    emulator.setRefreshTokenRemaining(MINJI, 29 * DAY_S);
    const { json } = await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(json).toEqual({
      token_type: 'bearer',
      access_token: expect.any(String),
      expires_in: 21599,
      refresh_token: expect.any(String),
      refresh_token_expires_in: 5183999,
    });
    expect(json.refresh_token).not.toBe(refreshToken);
    const old = await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(old.response.status).toBe(400);
    expect(old.json).toEqual({
      error: 'invalid_grant',
      error_description: 'expired_or_invalid_refresh_token',
      error_code: 'KOE322',
    });
    const rotated = await tokenCall(emulator, {
      grant_type: 'refresh_token',
      refresh_token: json.refresh_token as string,
    });
    expect(rotated.response.status).toBe(200);
  });

  test('a missing refresh token gets KOE319, an expired one KOE322', async () => {
    const emulator = await start();
    const { refreshToken } = await tokensFor(emulator);
    expect((await tokenCall(emulator, { grant_type: 'refresh_token' })).json.error_code).toBe('KOE319');
    emulator.expireRefreshTokens(MINJI);
    expect(
      (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).json
        .error_code,
    ).toBe('KOE322');
  });

  test('more than 20 access tokens per user in 10 minutes gets KOE237 until the window passes', async () => {
    const emulator = await start();
    const { refreshToken } = await tokensFor(emulator);
    for (let i = 0; i < 19; i += 1) {
      expect(
        (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).response
          .status,
      ).toBe(200);
    }
    const limited = await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(limited.response.status).toBe(400);
    expect(limited.json).toMatchObject({ error: 'invalid_request', error_code: 'KOE237' });
    emulator.advanceClock(10 * 60_000 + 1);
    expect(
      (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).response
        .status,
    ).toBe(200);
  });

  test('the rate limit can be switched off', async () => {
    const emulator = await start({ tokenRateLimit: false });
    const { refreshToken } = await tokensFor(emulator);
    for (let i = 0; i < 25; i += 1) {
      expect(
        (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).response
          .status,
      ).toBe(200);
    }
  });
});

describe('user APIs', () => {
  test('/v2/user/me writes a 19-digit id digit for digit', async () => {
    const emulator = await start();
    const { accessToken } = await tokensFor(emulator, JIHO);
    const response = await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    const text = await response.text();
    expect(text).toContain(`"id":${JIHO}`);
    expect(text).not.toContain(`"${JIHO}"`);
  });

  test('/v2/user/me shows every agreed item with *_needs_agreement false and absolute avatar URLs', async () => {
    const emulator = await start();
    const { accessToken } = await tokensFor(emulator, MINJI);
    const me = await userMe(emulator, accessToken);
    expect(me.id).toBe(Number(MINJI));
    expect(me.connected_at).toMatch(/Z$/);
    expect(me.kakao_account).toMatchObject({
      profile_nickname_needs_agreement: false,
      profile_image_needs_agreement: false,
      profile: { nickname: 'Minji', is_default_image: false, is_default_nickname: false },
      email_needs_agreement: false,
      is_email_valid: true,
      is_email_verified: true,
      email: 'minji@example.test',
      age_range: '30~39',
      birthday: '0412',
      birthday_type: 'SOLAR',
      gender: 'female',
    });
    const avatar = await fetch(me.kakao_account?.profile?.profile_image_url ?? '');
    expect(avatar.status).toBe(200);
    expect(avatar.headers.get('content-type')).toBe('image/svg+xml');
    expect(await avatar.text()).toContain('<svg');
  });

  test('the user who will not share an e-mail gets email_needs_agreement true and no email', async () => {
    const emulator = await start();
    const { accessToken } = await tokensFor(emulator, SEOYEON);
    const me = await userMe(emulator, accessToken);
    expect(me.kakao_account?.email_needs_agreement).toBe(true);
    expect(me.kakao_account).not.toHaveProperty('email');
    expect(me.kakao_account).not.toHaveProperty('is_email_verified');
    expect(me.kakao_account?.profile?.nickname).toBe('Seoyeon');
  });

  test('items not asked for read needs_agreement true; property_keys narrows the answer', async () => {
    const emulator = await start();
    const { code } = await login(emulator, { extra: { scope: 'profile_nickname' } });
    const token = (await exchange(emulator, code)).json.access_token as string;
    const me = await userMe(emulator, token);
    expect(me.kakao_account).toMatchObject({
      profile_nickname_needs_agreement: false,
      email_needs_agreement: true,
    });
    expect(me.kakao_account?.profile).toEqual({ nickname: 'Minji', is_default_nickname: false });
    const narrowed = await kapi(emulator, '/v2/user/me', `Bearer ${token}`, 'POST', {
      property_keys: '["kakao_account.email"]',
    });
    expect(await narrowed.json()).toEqual({
      id: Number(MINJI),
      connected_at: expect.any(String),
      kakao_account: { email_needs_agreement: true },
    });
  });

  test('a missing, unknown or expired access token gets -401 with WWW-Authenticate', async () => {
    const emulator = await start();
    const { accessToken } = await tokensFor(emulator);
    const none = await fetch(`${emulator.apiOrigin}/v2/user/me`);
    expect(none.status).toBe(401);
    const unknown = await kapi(emulator, '/v2/user/me', 'Bearer not-a-token');
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer error=invalid_token');
    expect(await unknown.json()).toEqual({ msg: 'this access token does not exist', code: -401 });
    emulator.expireAccessTokens();
    const expired = await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe('Bearer error=invalid_token');
    expect(await expired.json()).toEqual({ msg: 'this access token is already expired', code: -401 });
  });

  test('access tokens expire on the emulator clock', async () => {
    const emulator = await start({ accessTokenTtlSeconds: 60 });
    const { accessToken } = await tokensFor(emulator);
    const info = (await (
      await kapi(emulator, '/v1/user/access_token_info', `Bearer ${accessToken}`)
    ).json()) as Record<string, unknown>;
    expect(info).toEqual({ id: Number(MINJI), expires_in: expect.any(Number), app_id: 1000001 });
    expect(info.expires_in).toBeGreaterThan(55);
    expect(info.expires_in).toBeLessThanOrEqual(60);
    emulator.advanceClock(61_000);
    expect((await kapi(emulator, '/v1/user/access_token_info', `Bearer ${accessToken}`)).status).toBe(401);
  });

  test('logout expires the access token and its refresh token', async () => {
    const emulator = await start();
    const { accessToken, refreshToken } = await tokensFor(emulator);
    const response = await kapi(emulator, '/v1/user/logout', `Bearer ${accessToken}`, 'POST');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`{"id":${MINJI}}`);
    expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).status).toBe(401);
    expect(
      (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).json
        .error_code,
    ).toBe('KOE322');
    expect(emulator.getUser(MINJI)?.linked).toBe(true);
  });

  test('logout with the admin key expires all of the user’s tokens', async () => {
    const emulator = await start();
    const first = await tokensFor(emulator);
    const second = await tokensFor(emulator);
    const response = await kapi(emulator, '/v1/user/logout', `KakaoAK ${emulator.adminKey}`, 'POST', {
      target_id_type: 'user_id',
      target_id: MINJI,
    });
    expect(await response.text()).toBe(`{"id":${MINJI}}`);
    for (const { accessToken } of [first, second]) {
      expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).status).toBe(401);
    }
  });

  test('unlink revokes tokens and consents and sends no webhook', async () => {
    const hook = await webhookReceiver();
    const emulator = await start({ webhookUrl: hook.url });
    const { accessToken, refreshToken } = await tokensFor(emulator, JIHO);
    const response = await kapi(emulator, '/v1/user/unlink', `Bearer ${accessToken}`, 'POST');
    expect(await response.text()).toBe(`{"id":${JIHO}}`);
    expect(emulator.getUser(JIHO)).toMatchObject({ linked: false, agreedScopes: [] });
    expect(emulator.getUser(JIHO)?.connectedAt).toBeUndefined();
    expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).status).toBe(401);
    expect(
      (await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: refreshToken })).json
        .error_code,
    ).toBe('KOE322');
    await hook.close();
    expect(hook.calls).toHaveLength(0);
  });

  test('/v1/user/ids pages linked ids with the admin key; a bad admin key gets 401 KakaoAK', async () => {
    const emulator = await start();
    for (const id of [MINJI, JIHO, SEOYEON]) await login(emulator, { userId: id });
    const admin = `KakaoAK ${emulator.adminKey}`;
    const first = await kapi(emulator, '/v1/user/ids?limit=2', admin);
    expect(first.status).toBe(200);
    const text = await first.text();
    expect(text).toContain(`"elements":[${SEOYEON},${MINJI}]`);
    const body = JSON.parse(text) as { after_url: string; before_url: string | null };
    expect(body.before_url).toBeNull();
    const second = await kapi(
      emulator,
      new URL(body.after_url).pathname + new URL(body.after_url).search,
      admin,
    );
    const secondText = await second.text();
    expect(secondText).toContain(`"elements":[${JIHO}]`);
    expect(JSON.parse(secondText)).toMatchObject({
      after_url: null,
      before_url: expect.stringContaining('order=desc'),
    });
    const desc = await (await kapi(emulator, '/v1/user/ids?order=desc', admin)).text();
    expect(desc).toContain(`"elements":[${JIHO},${MINJI},${SEOYEON}]`);
    expect((await kapi(emulator, '/v1/user/ids?limit=0', admin)).status).toBe(400);

    const bad = await kapi(emulator, '/v1/user/ids', 'KakaoAK wrong');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('KakaoAK error=invalid_token');
    expect((await bad.json()) as object).toMatchObject({ code: -401 });
    const { accessToken } = await tokensFor(emulator);
    expect((await kapi(emulator, '/v1/user/ids', `Bearer ${accessToken}`)).status).toBe(401);
  });

  test('/v2/user/me with the admin key needs a linked target user', async () => {
    const emulator = await start();
    const admin = `KakaoAK ${emulator.adminKey}`;
    const unlinked = await kapi(emulator, `/v2/user/me?target_id_type=user_id&target_id=${JIHO}`, admin);
    expect(unlinked.status).toBe(400);
    expect(await unlinked.json()).toMatchObject({ code: -101 });
    await login(emulator, { userId: JIHO });
    const linked = await kapi(emulator, `/v2/user/me?target_id_type=user_id&target_id=${JIHO}`, admin);
    expect(await linked.text()).toContain(`"id":${JIHO}`);
    const wrongKey = await kapi(
      emulator,
      `/v2/user/me?target_id_type=user_id&target_id=${JIHO}`,
      'KakaoAK wrong',
    );
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.headers.get('www-authenticate')).toBe('KakaoAK error=invalid_token');
  });

  test('/v2/app/users returns the linked target users with exact ids', async () => {
    const emulator = await start();
    await login(emulator, { userId: JIHO });
    const query = new URLSearchParams({ target_id_type: 'user_id', target_ids: `[${JIHO},${SEOYEON}]` });
    const response = await kapi(
      emulator,
      `/v2/app/users?${query.toString()}`,
      `KakaoAK ${emulator.adminKey}`,
    );
    const text = await response.text();
    expect(text.startsWith(`[{"id":${JIHO},`)).toBe(true);
    expect(text).not.toContain(SEOYEON);
  });

  test('an unknown kapi path is a 404', async () => {
    const emulator = await start();
    expect((await fetch(`${emulator.apiOrigin}/v1/user/nothing`)).status).toBe(404);
  });
});

describe('OpenID Connect', () => {
  test('with OIDC on, the code grant returns an RS256 ID token verifiable with the JWKS', async () => {
    const emulator = await start({ oidc: true, issuer: 'https://kauth.kakao.com' });
    const { code } = await login(emulator, { extra: { scope: 'openid,profile_nickname', nonce: 'n-123' } });
    const { json } = await exchange(emulator, code);
    expect(json.scope).toBe('openid profile_nickname');
    const [header, payload, signature] = (json.id_token as string).split('.') as [string, string, string];
    const jwks = (await (await fetch(`${emulator.authOrigin}/.well-known/jwks.json`)).json()) as {
      keys: JsonWebKey[];
    };
    const key = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' });
    expect(
      verify('sha256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url')),
    ).toBe(true);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: 'https://kauth.kakao.com',
      aud: emulator.clientID,
      sub: MINJI,
      nonce: 'n-123',
    });
    expect(claims.nickname).toBe('Minji');
    const discovery = (await (
      await fetch(`${emulator.authOrigin}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: 'https://kauth.kakao.com',
      code_challenge_methods_supported: ['S256'],
    });
    const userinfo = await kapi(emulator, '/v1/oidc/userinfo', `Bearer ${json.access_token as string}`);
    expect(await userinfo.json()).toMatchObject({ sub: MINJI, nickname: 'Minji' });
  });
});

interface WebhookCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function webhookReceiver(status = 200) {
  const calls: WebhookCall[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/kakao/unlink`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('unlink from Kakao’s side', () => {
  test('unlinkFromKakao revokes everything and POSTs the webhook with the admin key and the params', async () => {
    const hook = await webhookReceiver();
    const emulator = await start({ webhookUrl: hook.url, appId: 4242, adminKey: 'admin-xyz' });
    const { accessToken } = await tokensFor(emulator, JIHO);
    try {
      expect(await emulator.unlinkFromKakao(JIHO)).toBe(200);
    } finally {
      await hook.close();
    }
    expect(hook.calls).toHaveLength(1);
    const call = hook.calls[0]!;
    expect(call.method).toBe('POST');
    expect(call.headers.authorization).toBe('KakaoAK admin-xyz');
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(call.body))).toEqual({
      app_id: '4242',
      user_id: JIHO,
      referrer_type: 'UNLINK_FROM_APPS',
    });
    expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).status).toBe(401);
    expect(emulator.getUser(JIHO)?.linked).toBe(false);
  });

  test('a GET webhook gets the params in the query; the webhook status is reported', async () => {
    const hook = await webhookReceiver(500);
    const emulator = await start({ webhookUrl: hook.url, webhookMethod: 'GET' });
    try {
      expect(await emulator.unlinkFromKakao(MINJI, 'ACCOUNT_DELETE')).toBe(500);
    } finally {
      await hook.close();
    }
    const url = new URL(hook.calls[0]!.url, 'http://x');
    expect(hook.calls[0]!.method).toBe('GET');
    expect(url.searchParams.get('referrer_type')).toBe('ACCOUNT_DELETE');
    expect(url.searchParams.get('user_id')).toBe(MINJI);
    expect(url.searchParams.get('app_id')).toBe('1000001');
  });

  test('an unreachable webhook resolves undefined', async () => {
    const hook = await webhookReceiver();
    await hook.close();
    const emulator = await start({ webhookUrl: hook.url });
    expect(await emulator.unlinkFromKakao(MINJI)).toBeUndefined();
  });
});

describe('faults', () => {
  test('html_500 and non_json answer garbage the given number of times, then normally', async () => {
    const emulator = await start();
    const { accessToken } = await tokensFor(emulator);
    emulator.injectFault({ endpoint: 'user_me', kind: 'html_500', times: 1 });
    emulator.injectFault({ endpoint: 'user_me', kind: 'non_json', times: 1 });
    const first = await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`);
    expect(first.status).toBe(500);
    expect(first.headers.get('content-type')).toMatch(/^text\/html/);
    const second = await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`);
    expect(second.status).toBe(200);
    expect(second.headers.get('content-type')).toMatch(/^text\/html/);
    const secondText = await second.text();
    expect(() => JSON.parse(secondText)).toThrow();
    expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).headers.get('content-type')).toBe(
      'application/json;charset=UTF-8',
    );
  });

  test('a token fault fires after the code was consumed, so the retry gets KOE320', async () => {
    const emulator = await start();
    const { code } = await login(emulator);
    emulator.injectFault({ endpoint: 'token', kind: 'html_500', times: 1 });
    const fields = {
      grant_type: 'authorization_code',
      client_id: emulator.clientID,
      code,
      redirect_uri: REDIRECT_URI,
    };
    expect((await postForm(`${emulator.authOrigin}/oauth/token`, fields)).status).toBe(500);
    expect((await exchange(emulator, code)).json.error_code).toBe('KOE320');
  });

  test('status and redirect faults answer exactly what was asked', async () => {
    const emulator = await start();
    emulator.injectFault({
      endpoint: 'token',
      kind: 'status',
      status: 503,
      body: '{"x":1}',
      contentType: 'application/json',
      times: 1,
    });
    emulator.injectFault({
      endpoint: 'token',
      kind: 'redirect',
      location: 'http://127.0.0.1:9/elsewhere',
      times: 1,
    });
    const status = await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: 'x' });
    expect(status.response.status).toBe(503);
    expect(status.json).toEqual({ x: 1 });
    const redirect = await postForm(`${emulator.authOrigin}/oauth/token`, {});
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe('http://127.0.0.1:9/elsewhere');
    emulator.clearFaults();
  });

  test('delay answers normally after the delay', async () => {
    const emulator = await start();
    emulator.injectFault({ endpoint: 'jwks', kind: 'delay', delayMs: 300, times: 1 });
    const started = Date.now();
    const response = await fetch(`${emulator.authOrigin}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  test('hang never answers, and close() ends it promptly', async () => {
    const emulator = await start();
    emulator.injectFault({ endpoint: 'user_me', kind: 'hang' });
    const timedOut = fetch(`${emulator.apiOrigin}/v2/user/me`, { signal: AbortSignal.timeout(200) });
    await expect(timedOut).rejects.toThrow();
    const pending = fetch(`${emulator.apiOrigin}/v2/user/me`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await emulator.close();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('drop closes the connection without an answer, after the token endpoint did its work', async () => {
    const emulator = await start();
    const { code } = await login(emulator);
    emulator.injectFault({ endpoint: 'token', kind: 'drop', times: 1 });
    const fields = {
      grant_type: 'authorization_code',
      client_id: emulator.clientID,
      code,
      redirect_uri: REDIRECT_URI,
    };
    await expect(postForm(`${emulator.authOrigin}/oauth/token`, fields)).rejects.toThrow();
    // The code was consumed before the connection dropped: a retry sees KOE320.
    expect((await exchange(emulator, code)).json.error_code).toBe('KOE320');
    expect(emulator.count('token')).toBe(2);
  });

  test('malformed faults are refused', async () => {
    const emulator = await start();
    expect(() => emulator.injectFault({ endpoint: 'nowhere' as never, kind: 'hang' })).toThrow(TypeError);
    expect(() => emulator.injectFault({ endpoint: 'token', kind: 'hang', times: 0 })).toThrow(TypeError);
  });
});

describe('control API and robustness', () => {
  test('the control API drives the emulator over HTTP', async () => {
    const emulator = await start();
    const control = (path: string, body?: unknown, method = 'POST') =>
      fetch(`${emulator.url}/_emulator/${path}`, {
        method,
        headers: {
          'X-Emulator-Token': emulator.controlToken,
          ...(method === 'POST' && { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect(await (await control('health', undefined, 'GET')).json()).toEqual({ ok: true });
    const added = await control('users', { id: '9223372036854775807', nickname: 'Max' });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ id: '9223372036854775807', linked: false });
    expect((await control('users', { id: '12x' })).status).toBe(400);

    const { accessToken } = await tokensFor(emulator, '9223372036854775807');
    expect(await (await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).text()).toContain(
      '"id":9223372036854775807',
    );
    expect((await control('advance-clock', { ms: 21600 * 1000 })).status).toBe(204);
    expect(await (await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).json()).toMatchObject({
      msg: 'this access token is already expired',
    });

    expect((await control('faults', { endpoint: 'user_me', kind: 'html_500' })).status).toBe(201);
    expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).status).toBe(500);
    expect((await control('faults', undefined, 'DELETE')).status).toBe(204);
    expect((await kapi(emulator, '/v2/user/me', `Bearer ${accessToken}`)).status).toBe(401);

    const log = (await (await control('requests', undefined, 'GET')).json()) as { endpoint: string }[];
    expect(log.filter((entry) => entry.endpoint === 'user_me')).toHaveLength(4);
    expect(emulator.count('user_me')).toBe(4);
    expect(emulator.count('control')).toBeGreaterThan(0);
    const unlinked = await control('unlink', { userId: '9223372036854775807' });
    expect(await unlinked.json()).toEqual({ webhookStatus: null });
    expect((await control('reset-requests')).status).toBe(204);
    expect(emulator.count('user_me')).toBe(0);
    expect(emulator.requests.map((entry) => entry.endpoint)).toEqual([]);
  });

  test('every request is logged with its query and form', async () => {
    const emulator = await start();
    await tokenCall(emulator, { grant_type: 'refresh_token', refresh_token: 'r1' });
    const entry = emulator.requests.find((request) => request.endpoint === 'token');
    expect(entry).toMatchObject({ method: 'POST', path: '/oauth/token', form: { refresh_token: 'r1' } });
    expect(emulator.count('token')).toBe(1);
  });

  test('oversized bodies get 413 and garbage input never takes the emulator down', async () => {
    const emulator = await start();
    const big = await fetch(`${emulator.authOrigin}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `code=${'a'.repeat(70 * 1024)}`,
    });
    expect(big.status).toBe(413);
    const odd = await get(
      `${emulator.authOrigin}/oauth/authorize?client_id=%E0%A4%A&redirect_uri=%%%&scope=${'x,'.repeat(1000)}`,
    );
    expect(odd.status).toBe(400);
    const token = { 'X-Emulator-Token': emulator.controlToken };
    const badJson = await fetch(`${emulator.url}/_emulator/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...token },
      body: '{"id":',
    });
    expect(badJson.status).toBe(400);
    const badKeys = await kapi(emulator, '/v2/user/me?property_keys=[1', `KakaoAK ${emulator.adminKey}`);
    expect(badKeys.status).toBe(400);
    expect((await fetch(`${emulator.url}/_emulator/health`, { headers: token })).status).toBe(200);
  });

  test('invalid options are refused with a message that names the fix', async () => {
    await expect(createKakaoEmulator({ redirectUri: ['x'] } as never)).rejects.toThrow(
      /did you mean "redirectUris"/i,
    );
    await expect(createKakaoEmulator({ redirectUris: ['/cb'] })).rejects.toThrow(/absolute http/);
    await expect(createKakaoEmulator({ users: [{ id: '1.5' }] })).rejects.toThrow(/decimal string/);
  });
});
