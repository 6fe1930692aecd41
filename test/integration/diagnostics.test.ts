import { startHarness, type Harness } from '../helpers/harness';

describe('diagnostics for lost login sessions', () => {
  let h: Harness;
  let port: string;
  beforeAll(async () => {
    h = await startHarness();
    port = new URL(h.app.url).port;
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.events.length = 0;
  });

  const lost = () => h.events.filter((e) => e.event === 'login_session_lost');

  test('a login started on another host name than the callback URL is explained once', async () => {
    // The harness serves on 127.0.0.1; the default callback URL is on localhost.
    const start = () => h.agent().get('/auth/kakao').redirects(0);
    expect((await start()).status).toBe(302);
    await start();
    const warnings = h.events.filter((e) => e.event === 'login_start_misconfigured');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', reason: 'host_mismatch' });
    expect(warnings[0]!.hint).toContain(`127.0.0.1:${port}`);
  });

  test('a cookieless callback on a loopback address points at the localhost / 127.0.0.1 mix-up', async () => {
    const res = await h
      .agent()
      .get(`/auth/kakao/callback?code=abc&state=${'A'.repeat(43)}`)
      .redirects(0);
    expect(res.headers.location).toBe('/?login_error=session_missing');
    expect(lost()).toHaveLength(1);
    expect(lost()[0]).toMatchObject({ reason: 'host_mismatch' });
    expect(lost()[0]!.hint).toMatch(/localhost/);
  });

  test('a callback on a different host name than the callback URL is explained as a host mismatch', async () => {
    await h
      .agent()
      .get(`/auth/kakao/callback?code=abc&state=${'A'.repeat(43)}`)
      .set('Host', `app.example:${port}`)
      .redirects(0);
    expect(lost()[0]).toMatchObject({ reason: 'host_mismatch' });
    expect(lost()[0]!.hint).toContain('app.example');
  });

  test('the hints never repeat cookie values or query parameters', async () => {
    await h
      .agent()
      .get(`/auth/kakao/callback?code=secret-code-value&state=${'B'.repeat(43)}`)
      .set('Cookie', 'kle.sid=s%3Aprivate-session-id.sig; other=private-cookie')
      .redirects(0);
    const text = JSON.stringify(h.events);
    expect(text).not.toContain('secret-code-value');
    expect(text).not.toContain('private-session-id');
    expect(text).not.toContain('private-cookie');
  });
});

describe('diagnostics behind a TLS-terminating proxy', () => {
  test('a proxy that is not trusted: the Secure session cookie would never be set, and the login start says so', async () => {
    const h = await startHarness({ env: { KAKAO_CALLBACK_URL: 'https://app.example/auth/kakao/callback' } });
    try {
      const start = await h
        .agent()
        .get('/auth/kakao')
        .set('Host', 'app.example')
        .set('X-Forwarded-Proto', 'https')
        .redirects(0);
      expect(start.status).toBe(302);
      // The login's own cookie is Secure with the __Host- prefix; the browser (on https) keeps it.
      expect(start.headers['set-cookie']?.[0]).toMatch(
        /^__Host-kakao_tx\.[^=]+=kt1\.[^;]+;.* Path=\/;.* Secure; SameSite=Lax$/,
      );
      const event = h.events.find((e) => e.event === 'login_start_misconfigured');
      expect(event).toMatchObject({ reason: 'proxy_not_trusted' });
      expect(event!.hint).toMatch(/trust proxy/);
      expect(h.lines.some((l) => l.includes('trust_proxy_unset'))).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('diagnostics on a public host name', () => {
  test('a callback that brings no cookie at all is explained as cookies not sent', async () => {
    const h = await startHarness({ env: { KAKAO_CALLBACK_URL: 'http://app.example/auth/kakao/callback' } });
    try {
      await h
        .agent()
        .get(`/auth/kakao/callback?code=abc&state=${'A'.repeat(43)}`)
        .set('Host', 'app.example')
        .redirects(0);
      const event = h.events.find((e) => e.event === 'login_session_lost');
      expect(event).toMatchObject({ reason: 'cookie_not_sent' });
      expect(event!.hint).toMatch(/cookie/i);
      expect(h.lines.some((l) => l.includes('insecure_callback'))).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('start-up warnings', () => {
  test('scopes that need a business app are named at start-up', async () => {
    const h = await startHarness({ env: { KAKAO_SCOPES: 'profile_nickname,account_email' } });
    try {
      const line = h.lines.find((l) => l.includes('scope_needs_business_app'));
      expect(line).toMatch(/account_email/);
      expect(line).toMatch(/KOE205/);
    } finally {
      await h.close();
    }
  });

  test('a plain localhost setup starts without warnings', async () => {
    const h = await startHarness();
    try {
      expect(h.lines.filter((l) => l.startsWith('warning'))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
