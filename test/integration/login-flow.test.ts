import { createHash, randomBytes } from 'node:crypto';
import { authorizeAtEmulator, leakedSecrets, login, startHarness, type Harness } from '../helpers/harness';

const MINJI = '4120937465';
const JIHO = '1376016924429759228';
const SEOYEON = '3000000003';

function cookieValue(setCookie: string[] | string | undefined, name: string): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const found = list.find((c) => c.startsWith(`${name}=`));
  return found?.split(';')[0]!.slice(name.length + 1);
}

describe('login through the example app against the emulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => h.emulator.resetRequests());

  test('the login start redirects to Kakao with PKCE S256, state and the configured scopes', async () => {
    const res = await h.agent().get('/auth/kakao').redirects(0);
    expect(res.status).toBe(302);
    const url = new URL(res.headers.location!);
    expect(url.origin + url.pathname).toBe(`${h.emulator.authOrigin}/oauth/authorize`);
    expect(url.searchParams.get('client_id')).toBe(h.emulator.clientID);
    expect(url.searchParams.get('redirect_uri')).toBe(h.app.callbackURL);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // KAKAO_SCOPES unset: no scope, Kakao asks for the consent items set up in the console.
    expect(url.searchParams.has('scope')).toBe(false);
    expect(url.searchParams.has('nonce')).toBe(false);
    expect(res.headers['set-cookie']?.[0]).toMatch(/^kle\.sid=.*HttpOnly.*SameSite=Lax/i);
  });

  test('50 login starts carry 50 distinct challenges and states', async () => {
    const challenges = new Set<string>();
    const states = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const url = new URL((await h.agent().get('/auth/kakao').redirects(0)).headers.location!);
      challenges.add(url.searchParams.get('code_challenge')!);
      states.add(url.searchParams.get('state')!);
    }
    expect(challenges.size).toBe(50);
    expect(states.size).toBe(50);
  });

  test('the redirect URI comes from configuration, not from Host or X-Forwarded-Host', async () => {
    const res = await h
      .agent()
      .get('/auth/kakao')
      .set('Host', 'evil.example')
      .set('X-Forwarded-Host', 'evil.example')
      .redirects(0);
    expect(new URL(res.headers.location!).searchParams.get('redirect_uri')).toBe(h.app.callbackURL);
  });

  test('a scope parameter on the login start does not widen the requested scopes', async () => {
    const res = await h.agent().get('/auth/kakao?scope=talk_message,friends').redirects(0);
    expect(new URL(res.headers.location!).searchParams.has('scope')).toBe(false);
  });

  test('a happy login creates a new session and shows the nickname', async () => {
    const agent = h.agent();
    const start = await agent.get('/auth/kakao').redirects(0);
    const before = cookieValue(start.headers['set-cookie'], 'kle.sid');
    const callback = await authorizeAtEmulator(start.headers.location!);
    const res = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    const after = cookieValue(res.headers['set-cookie'], 'kle.sid');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    const home = await agent.get('/');
    expect(home.text).toContain('Minji');
    const me = await agent.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: MINJI, nickname: 'Minji' });
    expect(h.emulator.count('token')).toBe(1);
    expect(h.emulator.count('user_me')).toBe(1);
  });

  test('the token request carries the verifier whose S256 hash was sent at authorize, and the same redirect URI', async () => {
    await login(h, h.agent());
    const authorize = h.emulator.requests.find((r) => r.endpoint === 'authorize')!;
    const token = h.emulator.requests.find((r) => r.endpoint === 'token')!;
    const verifier = token.form.code_verifier as string;
    expect(verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(createHash('sha256').update(verifier).digest('base64url')).toBe(authorize.query.code_challenge);
    expect(token.form.redirect_uri).toBe(authorize.query.redirect_uri);
    expect(token.form).not.toHaveProperty('client_secret');
  });

  test('the old session cookie is not logged in after login (session fixation)', async () => {
    const agent = h.agent();
    const start = await agent.get('/auth/kakao').redirects(0);
    const before = cookieValue(start.headers['set-cookie'], 'kle.sid')!;
    const callback = await authorizeAtEmulator(start.headers.location!);
    await agent.get(callback.pathname + callback.search).redirects(0);
    const stale = await h.agent().get('/me').set('Cookie', `kle.sid=${before}`);
    expect(stale.status).toBe(401);
  });

  test('a 19-digit user id stays exact', async () => {
    const agent = h.agent();
    await login(h, agent, { loginHint: JIHO });
    const me = await agent.get('/me');
    expect(me.body.id).toBe(JIHO);
  });

  test('email appears only when Kakao says it is valid and verified', async () => {
    const h2 = await startHarness({ env: { KAKAO_SCOPES: 'profile_nickname,profile_image,account_email' } });
    try {
      const withEmail = h2.agent();
      await login(h2, withEmail, { loginHint: MINJI });
      expect((await withEmail.get('/me')).body).toMatchObject({
        email: 'minji@example.test',
        emailVerified: true,
      });
      const withoutEmail = h2.agent();
      await login(h2, withoutEmail, { loginHint: SEOYEON });
      const me = (await withoutEmail.get('/me')).body;
      expect(me.id).toBe(SEOYEON);
      expect(me).not.toHaveProperty('email');
    } finally {
      await h2.close();
    }
  });

  test('returnTo is honoured for a same-origin path', async () => {
    const res = await login(h, h.agent(), { returnTo: '/dashboard?tab=1' });
    expect(res.headers.location).toBe('/dashboard?tab=1');
  });

  test.each([
    '//evil.example',
    '/\\evil.example',
    'https://evil.example/',
    '/auth/kakao/callback?code=x',
    '/logout',
  ])('returnTo %s is replaced by /', async (returnTo) => {
    const res = await login(h, h.agent(), { returnTo });
    expect(res.headers.location).toBe('/');
  });

  test('a repeated returnTo parameter counts as invalid', async () => {
    const agent = h.agent();
    const start = await agent.get('/auth/kakao?returnTo=/a&returnTo=/b').redirects(0);
    const callback = await authorizeAtEmulator(start.headers.location!);
    const res = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(res.headers.location).toBe('/');
  });

  test('two tabs started in one session can both finish, first one first', async () => {
    const agent = h.agent();
    const first = await agent.get('/auth/kakao?returnTo=/one').redirects(0);
    const second = await agent.get('/auth/kakao?returnTo=/two').redirects(0);
    const cb1 = await authorizeAtEmulator(first.headers.location!);
    const cb2 = await authorizeAtEmulator(second.headers.location!);
    const r1 = await agent.get(cb1.pathname + cb1.search).redirects(0);
    expect(r1.headers.location).toBe('/one');
    // The first login regenerated the session; the second tab's pending login was carried over.
    const r2 = await agent.get(cb2.pathname + cb2.search).redirects(0);
    expect(r2.status).toBe(302);
    expect(r2.headers.location).toBe('/two');
  });

  test('a sixth concurrent start evicts the oldest, whose callback then fails cleanly', async () => {
    const agent = h.agent();
    const starts = [];
    for (let i = 0; i < 6; i++) starts.push(await agent.get('/auth/kakao').redirects(0));
    const oldest = await authorizeAtEmulator(starts[0]!.headers.location!);
    h.emulator.resetRequests();
    const res = await agent.get(oldest.pathname + oldest.search).redirects(0);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/?login_error=state_mismatch');
    expect(h.emulator.count('token')).toBe(0);
    const newest = await authorizeAtEmulator(starts[5]!.headers.location!);
    expect((await agent.get(newest.pathname + newest.search).redirects(0)).headers.location).toBe('/');
  });

  test('unfinished login starts beyond the per-IP limit get 429; completed logins give their start back', async () => {
    const h2 = await startHarness({ overrides: { loginRateLimitPerMinute: 5 } });
    try {
      for (let i = 0; i < 8; i++) expect((await login(h2, h2.agent())).status).toBe(302);
      const statuses = [];
      for (let i = 0; i < 8; i++) statuses.push((await h2.agent().get('/auth/kakao').redirects(0)).status);
      expect(statuses).toEqual([302, 302, 302, 302, 302, 429, 429, 429]);
    } finally {
      await h2.close();
    }
  });

  test('no token, code or verifier reaches the browser during a login', async () => {
    const agent = h.agent();
    const responses: string[] = [];
    const record = (r: { headers: unknown; text?: string }) =>
      responses.push(JSON.stringify(r.headers) + (r.text ?? ''));
    const start = await agent.get('/auth/kakao').redirects(0);
    record(start);
    const callback = await authorizeAtEmulator(start.headers.location!);
    const cb = await agent.get(callback.pathname + callback.search).redirects(0);
    record(cb);
    record(await agent.get('/'));
    record(await agent.get('/me'));
    const token = h.emulator.requests.find((r) => r.endpoint === 'token')!;
    const secrets = [...h.emulator.issuedSecrets(), token.form.code_verifier as string];
    expect(leakedSecrets(responses.join('\n'), secrets)).toEqual([]);
    expect(leakedSecrets(JSON.stringify(h.events), secrets)).toEqual([]);
  });

  test('user-info calls carry the access token in the Authorization header, never in the URL', async () => {
    await login(h, h.agent());
    const me = h.emulator.requests.find((r) => r.endpoint === 'user_me')!;
    expect(me.headers.authorization).toMatch(/^Bearer \S+$/);
    expect(JSON.stringify(me.query)).not.toContain('access_token');
  });
});

describe('bad callbacks end before any call to the token endpoint', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  async function startedLogin() {
    const agent = h.agent();
    const start = await agent.get('/auth/kakao').redirects(0);
    const state = new URL(start.headers.location!).searchParams.get('state')!;
    return { agent, state, start };
  }

  const cases: [string, (state: string) => string, string][] = [
    ['missing state', () => 'code=abc', 'invalid_request'],
    ['repeated state', (s) => `code=abc&state=${s}&state=${s}`, 'invalid_request'],
    ['array state', (s) => `code=abc&state[]=${s}`, 'invalid_request'],
    ['object code', (s) => `code[a]=b&state=${s}`, 'invalid_request'],
    ['empty code', (s) => `code=&state=${s}`, 'invalid_request'],
    ['repeated code', (s) => `code=a&code=b&state=${s}`, 'invalid_request'],
    ['oversized code', (s) => `code=${'a'.repeat(600)}&state=${s}`, 'invalid_request'],
    ['oversized state', () => `code=abc&state=${'s'.repeat(200)}`, 'invalid_request'],
    ['state with foreign characters', () => `code=abc&state=%3Cscript%3E`, 'invalid_request'],
    ['both code and error', (s) => `code=abc&error=access_denied&state=${s}`, 'invalid_request'],
    [
      'an access_token in the query (implicit flow)',
      (s) => `access_token=x&state=${s}&code=abc`,
      'invalid_request',
    ],
    ['repeated error', (s) => `error=a&error=b&state=${s}`, 'invalid_request'],
    ['unknown state', () => `code=abc&state=${'A'.repeat(43)}`, 'state_mismatch'],
    ['a foreign iss', (s) => `code=abc&state=${s}&iss=https%3A%2F%2Fevil.example`, 'invalid_request'],
    [
      'cancel on the consent page',
      (s) => `error=access_denied&error_description=User%20denied%20access&state=${s}`,
      'access_denied',
    ],
    ['prompt=none without consent', (s) => `error=consent_required&state=${s}`, 'consent_required'],
    ['prompt=none without a Kakao session', (s) => `error=login_required&state=${s}`, 'login_required'],
    ['an unknown error value', (s) => `error=server_error&state=${s}`, 'authorization_failed'],
  ];

  test.each(cases)('%s', async (_name, query, code) => {
    const { agent, state } = await startedLogin();
    h.emulator.resetRequests();
    const res = await agent.get(`/auth/kakao/callback?${query(state)}`).redirects(0);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`/?login_error=${code}`);
    expect(h.emulator.count('token')).toBe(0);
    expect((await agent.get('/me')).status).toBe(401);
    expect(res.text).not.toMatch(/at .*\(.*:\d+:\d+\)/);
  });

  test('a callback with no session at all fails as session_missing', async () => {
    h.emulator.resetRequests();
    const res = await h
      .agent()
      .get(`/auth/kakao/callback?code=abc&state=${'A'.repeat(43)}`)
      .redirects(0);
    expect(res.headers.location).toBe('/?login_error=session_missing');
    expect(h.emulator.count('token')).toBe(0);
  });

  test('an error callback still consumes the state', async () => {
    const { agent, state, start } = await startedLogin();
    await agent.get(`/auth/kakao/callback?error=access_denied&state=${state}`).redirects(0);
    const callback = await authorizeAtEmulator(start.headers.location!);
    h.emulator.resetRequests();
    const res = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(res.headers.location).toBe('/?login_error=session_missing');
    expect(h.emulator.count('token')).toBe(0);
  });

  test('replayed callback fails because state was consumed', async () => {
    const { agent, start } = await startedLogin();
    // A second pending login keeps transactions in the session after the first callback, so the
    // replay meets a live transaction bag that no longer holds its state.
    await agent.get('/auth/kakao').redirects(0);
    const callback = await authorizeAtEmulator(start.headers.location!);
    const first = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(first.headers.location).toBe('/');
    h.emulator.resetRequests();
    const replay = await agent.get(callback.pathname + callback.search).redirects(0);
    expect(replay.status).toBe(302);
    expect(replay.headers.location).toBe('/?login_error=state_mismatch');
    expect(h.emulator.count('token')).toBe(0);
  });

  test('a code Kakao already used (KOE320) fails as code_rejected with no session', async () => {
    const agent = h.agent();
    const start1 = await agent.get('/auth/kakao').redirects(0);
    const cb1 = await authorizeAtEmulator(start1.headers.location!);
    // Log in with the code once, then present the same code with another browser's valid state.
    const code = cb1.searchParams.get('code')!;
    const first = await agent
      .get(`/auth/kakao/callback?code=${code}&state=${cb1.searchParams.get('state')}`)
      .redirects(0);
    expect(first.headers.location).toBe('/');
    const fresh = h.agent();
    const startFresh = await fresh.get('/auth/kakao').redirects(0);
    const freshState = new URL(startFresh.headers.location!).searchParams.get('state')!;
    h.emulator.resetRequests();
    const res = await fresh.get(`/auth/kakao/callback?code=${code}&state=${freshState}`).redirects(0);
    expect(h.emulator.count('token')).toBe(1);
    expect(res.headers.location).toBe('/?login_error=code_rejected');
    expect((await fresh.get('/me')).status).toBe(401);
  });

  test('an expired login transaction is refused before the token call', async () => {
    let offset = 0;
    const h2 = await startHarness({ overrides: { now: () => Date.now() + offset } });
    try {
      const agent = h2.agent();
      const start = await agent.get('/auth/kakao').redirects(0);
      const callback = await authorizeAtEmulator(start.headers.location!);
      offset = 10 * 60_000 + 1000;
      h2.emulator.resetRequests();
      const res = await agent.get(callback.pathname + callback.search).redirects(0);
      expect(res.headers.location).toBe('/?login_error=login_expired');
      expect(h2.emulator.count('token')).toBe(0);
    } finally {
      await h2.close();
    }
  });

  test('POST to the callback is 405 and calls nothing', async () => {
    const { agent, state } = await startedLogin();
    h.emulator.resetRequests();
    const res = await agent.post('/auth/kakao/callback').type('form').send(`code=abc&state=${state}`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
    expect(h.emulator.count('token')).toBe(0);
  });

  test('1000 callbacks with random codes and states make no token call', async () => {
    const { agent } = await startedLogin();
    h.emulator.resetRequests();
    const statuses = new Set<number>();
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          agent
            .get(
              `/auth/kakao/callback?code=${randomBytes(16).toString('hex')}${Math.random() < 0.5 ? `&state=${randomBytes(32).toString('base64url')}` : ''}`,
            )
            .redirects(0),
        ),
      );
      for (const r of results) statuses.add(r.status);
    }
    expect([...statuses]).toEqual([302]);
    expect(h.emulator.count('token')).toBe(0);
  });
});

describe('Kakao faults during the callback', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ overrides: { timeoutMs: 500 } });
  });
  afterAll(async () => {
    await h.close();
  });
  afterEach(() => h.emulator.clearFaults());

  async function callbackWithFault(fault: Parameters<Harness['emulator']['injectFault']>[0]) {
    const agent = h.agent();
    const start = await agent.get('/auth/kakao').redirects(0);
    const callback = await authorizeAtEmulator(start.headers.location!);
    h.emulator.injectFault({ times: 1, ...fault });
    h.emulator.resetRequests();
    const began = Date.now();
    const res = await agent.get(callback.pathname + callback.search).redirects(0);
    return { res, elapsed: Date.now() - began, agent };
  }

  test.each([
    ['token endpoint answers 500 HTML', 502, { endpoint: 'token', kind: 'html_500' }],
    ['token endpoint answers non-JSON', 502, { endpoint: 'token', kind: 'non_json' }],
    [
      'token endpoint redirects',
      502,
      { endpoint: 'token', kind: 'redirect', location: 'http://127.0.0.1:9/' },
    ],
    ['user info answers 500 HTML', 502, { endpoint: 'user_me', kind: 'html_500' }],
    ['user info answers non-JSON', 502, { endpoint: 'user_me', kind: 'non_json' }],
    ['token endpoint is too slow', 504, { endpoint: 'token', kind: 'delay', delayMs: 1500 }],
    ['token endpoint hangs', 504, { endpoint: 'token', kind: 'hang' }],
    ['user info hangs', 504, { endpoint: 'user_me', kind: 'hang' }],
  ] as const)('%s → %d, no session, no stack trace, one token call', async (_name, status, fault) => {
    const { res, elapsed, agent } = await callbackWithFault(
      fault as Parameters<Harness['emulator']['injectFault']>[0],
    );
    expect(res.status).toBe(status);
    expect(res.text).not.toMatch(/at .*\(.*:\d+:\d+\)/);
    expect(res.text).toContain('Reference');
    expect(elapsed).toBeLessThan(3000);
    expect(h.emulator.count('token')).toBe(1);
    expect((await agent.get('/me')).status).toBe(401);
  });

  test('/me/kakao answers 504 when Kakao times out, and works again afterwards', async () => {
    const agent = h.agent();
    await login(h, agent);
    h.emulator.injectFault({ endpoint: 'user_me', kind: 'hang', times: 1 });
    const res = await agent.get('/me/kakao');
    expect(res.status).toBe(504);
    expect((await agent.get('/me/kakao')).status).toBe(200);
  });

  test('Kakao unreachable → 502', async () => {
    const h2 = await startHarness({ overrides: { timeoutMs: 500 } });
    try {
      const agent = h2.agent();
      const start = await agent.get('/auth/kakao').redirects(0);
      const callback = await authorizeAtEmulator(start.headers.location!);
      await h2.emulator.close();
      const res = await agent.get(callback.pathname + callback.search).redirects(0);
      expect(res.status).toBe(502);
    } finally {
      await h2.app.close();
    }
  });
});

describe('logout', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  async function loggedIn() {
    const agent = h.agent();
    const res = await login(h, agent);
    const cookie = cookieValue(res.headers['set-cookie'], 'kle.sid')!;
    return { agent, cookie };
  }

  test('a same-origin POST logs out at Kakao and locally, and clears the cookie', async () => {
    const { agent, cookie } = await loggedIn();
    h.emulator.resetRequests();
    const res = await agent.post('/logout').set('Origin', new URL(h.app.callbackURL).origin).redirects(0);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']?.[0]).toMatch(/^kle\.sid=;.*Expires=Thu, 01 Jan 1970/);
    expect(h.emulator.count('logout')).toBe(1);
    expect(h.emulator.requests.find((r) => r.endpoint === 'logout')!.headers.authorization).toMatch(
      /^Bearer /,
    );
    expect((await agent.get('/me')).status).toBe(401);
    expect((await h.agent().get('/me').set('Cookie', `kle.sid=${cookie}`)).status).toBe(401);
  });

  test('a POST without Origin or Sec-Fetch-Site (non-browser client) is accepted', async () => {
    const { agent } = await loggedIn();
    expect((await agent.post('/logout').redirects(0)).status).toBe(302);
    expect((await agent.get('/me')).status).toBe(401);
  });

  test.each([
    ['a foreign Origin', { Origin: 'https://evil.example' }],
    ['Origin: null', { Origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
  ])('%s gets 403 and the user stays logged in', async (_name, headers) => {
    const { agent } = await loggedIn();
    h.emulator.resetRequests();
    const res = await agent.post('/logout').set(headers).redirects(0);
    expect(res.status).toBe(403);
    expect((await agent.get('/me')).status).toBe(200);
    expect(h.emulator.count('logout')).toBe(0);
  });

  test('GET /logout is 405 with Allow: POST and changes nothing', async () => {
    const { agent } = await loggedIn();
    const res = await agent.get('/logout').redirects(0);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect((await agent.get('/me')).status).toBe(200);
  });

  test('a Kakao logout that hangs does not block the local logout beyond its timeout', async () => {
    const h2 = await startHarness({ overrides: { logoutTimeoutMs: 300 } });
    try {
      const agent = h2.agent();
      await login(h2, agent);
      h2.emulator.injectFault({ endpoint: 'logout', kind: 'hang', times: 1 });
      const began = Date.now();
      const res = await agent.post('/logout').redirects(0);
      expect(res.status).toBe(302);
      expect(Date.now() - began).toBeLessThan(2000);
      expect((await agent.get('/me')).status).toBe(401);
    } finally {
      await h2.close();
    }
  });

  test('security headers are on the auth routes', async () => {
    const res = await h.agent().get('/auth/kakao').redirects(0);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=31536000/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    const logout = await h.agent().get('/logout');
    expect(logout.headers['referrer-policy']).toBe('no-referrer');
  });
});
