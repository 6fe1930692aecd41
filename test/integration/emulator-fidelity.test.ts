import { request as httpRequest } from 'node:http';
import { inspect } from 'node:util';
import {
  createKakaoEmulator,
  type KakaoEmulator,
  type KakaoEmulatorOptions,
} from 'kakao-login-express/testing';

const REDIRECT_URI = 'http://app.test/auth/kakao/callback';
const MINJI = '4120937465';
const SEOYEON = '3000000003';

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

function get(url: string, cookie?: string): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
}

function offeredItems(html: string): string[] {
  return [...html.matchAll(/name="scope" id="[^"]+" value="([^"]+)"/g)].map((match) => match[1]!);
}

/** Consent page → Accept as `userId` with `scopes` ticked; returns the code and the Kakao session cookie. */
async function consent(
  emulator: KakaoEmulator,
  userId: string,
  scopes: string[] | 'all',
  extra: Record<string, string> = {},
): Promise<{ code: string; cookie: string }> {
  const page = await get(authorizeUrl(emulator, extra));
  expect(page.status).toBe(200);
  const html = await page.text();
  const requestId = /name="request_id" value="([^"]+)"/.exec(html)![1]!;
  const ticked = scopes === 'all' ? offeredItems(html) : scopes;
  const response = await fetch(`${emulator.authOrigin}/oauth/authorize/decision`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([
      ['request_id', requestId],
      ['user_id', userId],
      ['action', 'accept'],
      ...ticked.map((scope): [string, string] => ['scope', scope]),
    ]).toString(),
  });
  const location = new URL(response.headers.get('location')!);
  const cookie = response.headers
    .getSetCookie()
    .find((value) => value.startsWith('_kawlt_emu='))!
    .split(';')[0]!;
  return { code: location.searchParams.get('code')!, cookie };
}

async function exchange(emulator: KakaoEmulator, code: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${emulator.authOrigin}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: emulator.clientID,
      redirect_uri: REDIRECT_URI,
      code,
    }),
  });
  return (await response.json()) as Record<string, unknown>;
}

describe('consent as Kakao asks for it', () => {
  test('a linked user who agreed to the console items logs in without a consent screen, also with prompt=none', async () => {
    const emulator = await start();
    const { cookie } = await consent(emulator, MINJI, 'all');
    for (const extra of [{}, { prompt: 'none' }] as Record<string, string>[]) {
      const again = await get(authorizeUrl(emulator, { ...extra, state: 's' }), cookie);
      expect(again.status).toBe(302);
      const location = new URL(again.headers.get('location')!);
      expect(location.searchParams.get('code')).toBeTruthy();
      expect(location.searchParams.get('state')).toBe('s');
    }
  });

  test('a user who declined an optional item is not asked again without scope, and prompt=none succeeds', async () => {
    const emulator = await start();
    const { cookie } = await consent(emulator, MINJI, ['profile_nickname', 'profile_image']);
    expect(emulator.getUser(MINJI)?.agreedScopes).toEqual(['profile_nickname', 'profile_image']);
    for (const extra of [{}, { prompt: 'none' }] as Record<string, string>[]) {
      const again = await get(authorizeUrl(emulator, extra), cookie);
      expect(again.status).toBe(302);
      expect(new URL(again.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    }
    expect(emulator.getUser(MINJI)?.agreedScopes).toEqual(['profile_nickname', 'profile_image']);
  });

  test('scope asks only for the items not agreed yet; with prompt=none it answers consent_required', async () => {
    const emulator = await start();
    const { cookie } = await consent(emulator, MINJI, ['profile_nickname']);
    const page = await get(authorizeUrl(emulator, { scope: 'profile_nickname,gender' }), cookie);
    expect(page.status).toBe(200);
    expect(offeredItems(await page.text())).toEqual(['gender']);
    const none = await get(
      authorizeUrl(emulator, { scope: 'profile_nickname,gender', prompt: 'none' }),
      cookie,
    );
    expect(new URL(none.headers.get('location')!).searchParams.get('error')).toBe('consent_required');
    // Items the user agreed to already do not bring the screen back.
    const agreed = await get(authorizeUrl(emulator, { scope: 'profile_nickname', prompt: 'none' }), cookie);
    expect(new URL(agreed.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  test('required items cannot be declined on the screen', async () => {
    const emulator = await start({ requiredConsentItems: ['profile_nickname'] });
    const page = await get(authorizeUrl(emulator));
    expect(await page.text()).toMatch(/value="profile_nickname" checked disabled/);
    await consent(emulator, SEOYEON, ['gender']);
    expect(emulator.getUser(SEOYEON)?.agreedScopes).toEqual(['profile_nickname', 'gender']);
  });
});

describe('misconfiguration stops on Kakao’s error page', () => {
  test.each([
    ['an unknown client (KOE101)', { client_id: 'not-the-key' }, 'KOE101'],
    ['an unregistered redirect URI (KOE006)', { redirect_uri: 'http://app.test/elsewhere' }, 'KOE006'],
    ['an unknown consent item (KOE205)', { scope: 'profile_nickname,talk_message' }, 'KOE205'],
    ['scope=openid with OIDC off (KOE205)', { scope: 'openid,profile_nickname' }, 'KOE205'],
  ])('%s: an HTML page, 400, no redirect back to the app', async (_name, extra, koe) => {
    const emulator = await start();
    const response = await get(authorizeUrl(emulator, extra));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain(koe);
  });
});

describe('OpenID Connect follows the console setting', () => {
  test('with OIDC on, a login without scope gets an ID token and "openid" in the granted scope', async () => {
    const emulator = await start({ oidc: true, autoApprove: true });
    const location = new URL((await get(authorizeUrl(emulator))).headers.get('location')!);
    const tokens = await exchange(emulator, location.searchParams.get('code')!);
    expect(typeof tokens.id_token).toBe('string');
    expect(String(tokens.scope).split(' ')[0]).toBe('openid');
  });

  test('with OIDC on, a scope without openid gets no ID token; with openid it does', async () => {
    const emulator = await start({ oidc: true, autoApprove: true });
    const without = new URL(
      (await get(authorizeUrl(emulator, { scope: 'profile_nickname' }))).headers.get('location')!,
    );
    expect((await exchange(emulator, without.searchParams.get('code')!)).id_token).toBeUndefined();
    const withOpenid = new URL(
      (await get(authorizeUrl(emulator, { scope: 'openid,profile_nickname' }))).headers.get('location')!,
    );
    expect(typeof (await exchange(emulator, withOpenid.searchParams.get('code')!)).id_token).toBe('string');
  });

  test('with OIDC off there is never an ID token, and openid is not a console consent item', async () => {
    const emulator = await start({ autoApprove: true });
    const location = new URL((await get(authorizeUrl(emulator))).headers.get('location')!);
    const tokens = await exchange(emulator, location.searchParams.get('code')!);
    expect(tokens.id_token).toBeUndefined();
    expect(String(tokens.scope)).not.toContain('openid');
    await expect(createKakaoEmulator({ consentItems: ['openid'] })).rejects.toThrow(/oidc: true/);
    await expect(createKakaoEmulator({ consentItems: ['openid'] })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
    });
  });
});

/** A raw request, so that Host, Origin and Content-Type are exactly what a hostile page could send. */
function raw(
  emulator: KakaoEmulator,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; body: string }> {
  const { port } = new URL(emulator.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the control API is locked down', () => {
  test('a cross-site request (no token, text/plain body, foreign Host) is refused and changes nothing', async () => {
    const emulator = await start();
    const { port } = new URL(emulator.url);
    const body = JSON.stringify({ id: '9000000001' });
    const attempts: Record<string, string>[] = [
      // What a form or fetch() from another site can send without a preflight.
      { host: `127.0.0.1:${port}`, origin: 'https://evil.example', 'content-type': 'text/plain' },
      // DNS rebinding: the page's own host name, now resolving to 127.0.0.1, even with JSON.
      { host: `evil.example:${port}`, 'content-type': 'application/json' },
      {
        host: `evil.example:${port}`,
        'content-type': 'application/json',
        'x-emulator-token': emulator.controlToken,
      },
      // A wrong token.
      { host: `127.0.0.1:${port}`, 'content-type': 'application/json', 'x-emulator-token': 'guess' },
      // The right token but not JSON.
      { host: `127.0.0.1:${port}`, 'content-type': 'text/plain', 'x-emulator-token': emulator.controlToken },
    ];
    const statuses = [];
    for (const headers of attempts)
      statuses.push((await raw(emulator, 'POST', '/_emulator/users', headers, body)).status);
    expect(statuses).toEqual([403, 403, 403, 403, 415]);
    expect(emulator.getUser('9000000001')).toBeUndefined();
    expect((await raw(emulator, 'GET', '/_emulator/requests', { host: `127.0.0.1:${port}` })).status).toBe(
      403,
    );
    expect(emulator.count('control')).toBe(6);
  });

  test('with the token, a loopback Host and JSON, control calls work under every loopback name', async () => {
    const emulator = await start();
    const { port } = new URL(emulator.url);
    for (const [i, host] of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].entries()) {
      const response = await raw(
        emulator,
        'POST',
        '/_emulator/users',
        { host, 'content-type': 'application/json', 'x-emulator-token': emulator.controlToken },
        JSON.stringify({ id: `900000000${i + 1}` }),
      );
      expect(response.status).toBe(201);
    }
    expect(emulator.getUser('9000000003')).toBeDefined();
  });

  test('the avatars the consent page shows stay public', async () => {
    const emulator = await start();
    const response = await fetch(`${emulator.url}/_emulator/avatar/${MINJI}/110.svg`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/svg+xml');
  });

  test('the token is random per start and never shown by inspecting the emulator or its pages', async () => {
    const [a, b] = [await start(), await start()];
    expect(a.controlToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.controlToken).not.toBe(b.controlToken);
    expect(inspect(a, { depth: 10, showHidden: true })).not.toContain(a.controlToken);
    expect(JSON.stringify(a.strategyOptions)).not.toContain(a.controlToken);
    const page = await (await get(authorizeUrl(a))).text();
    expect(page).not.toContain(a.controlToken);
  });
});

describe('the consent decision endpoint (POST /_emulator/authorize)', () => {
  async function decideAs(emulator: KakaoEmulator, body: Record<string, unknown>) {
    const response = await fetch(`${emulator.url}/_emulator/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-emulator-token': emulator.controlToken },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  }

  test('logs the user in server-side and answers where Kakao would redirect, with the state', async () => {
    const emulator = await start();
    const decided = await decideAs(emulator, {
      authorizeUrl: authorizeUrl(emulator, { state: 'st' }),
      userId: SEOYEON,
      scopes: ['profile_nickname'],
    });
    expect(decided.status).toBe(200);
    const location = new URL(decided.body.location!);
    expect(location.origin + location.pathname).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('st');
    expect(emulator.getUser(SEOYEON)).toMatchObject({ linked: true, agreedScopes: ['profile_nickname'] });
    const tokens = await exchange(emulator, location.searchParams.get('code')!);
    expect(tokens.scope).toBe('profile_nickname');
  });

  test('reports the error page Kakao would stop on, and cancels with access_denied', async () => {
    const emulator = await start();
    const stopped = await decideAs(emulator, {
      authorizeUrl: authorizeUrl(emulator, { redirect_uri: 'http://app.test/other' }),
      userId: MINJI,
    });
    expect(stopped).toMatchObject({ status: 409, body: { error: 'kakao_error_page', koe: 'KOE006' } });
    const cancelled = await decideAs(emulator, {
      authorizeUrl: authorizeUrl(emulator),
      userId: MINJI,
      decision: 'cancel',
    });
    expect(new URL(cancelled.body.location!).searchParams.get('error')).toBe('access_denied');
    expect(
      (await decideAs(emulator, { authorizeUrl: 'https://kauth.kakao.com/oauth/authorize', userId: MINJI }))
        .status,
    ).toBe(400);
  });
});
