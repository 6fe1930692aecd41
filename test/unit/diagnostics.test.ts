import {
  BUSINESS_APP_SCOPES,
  SESSION_LOSS_HINTS,
  STARTUP_WARNING_MESSAGES,
  diagnoseLoginStart,
  diagnoseSessionLoss,
  safeHost,
  configWarnings,
  type LoginStartEvidence,
  type SessionLossEvidence,
  type StartupConfigEvidence,
} from '../../lib/diagnostics';

/** A local development callback that lost its session for no configuration reason. */
const local: SessionLossEvidence = {
  callbackHost: 'localhost:3000',
  callbackProtocol: 'http',
  forwardedProto: undefined,
  trustProxy: false,
  cookieHeaderPresent: true,
  sessionCookiePresent: false,
  sessionMiddleware: true,
  callbackURL: 'http://localhost:3000/auth/kakao/callback',
  cookie: { name: 'kle.sid', secure: false, sameSite: 'lax' },
};

/** The same behind a TLS-terminating proxy on a public host. */
const deployed: SessionLossEvidence = {
  callbackHost: 'app.example',
  callbackProtocol: 'https',
  forwardedProto: 'https',
  trustProxy: true,
  cookieHeaderPresent: true,
  sessionCookiePresent: false,
  sessionMiddleware: true,
  callbackURL: 'https://app.example/auth/kakao/callback',
  cookie: { name: '__Host-app.sid', secure: true, sameSite: 'lax' },
};

const diagnose = (base: SessionLossEvidence, change: Partial<SessionLossEvidence>) =>
  diagnoseSessionLoss({ ...base, ...change });

/** A hint is one sentence with every placeholder filled. */
function expectOneSentence(text: string): void {
  expect(text).toMatch(/^[A-Z][^\n\r]*\.$/);
  expect(text).not.toMatch(/[.;:!?] *\n|\.\s+[A-Z]/);
  expect(text).not.toMatch(/\{\w+\}/);
}

describe('diagnoseSessionLoss', () => {
  it('names missing session middleware before anything else', () => {
    const d = diagnose(local, { sessionMiddleware: false, cookie: { name: 'sid', sameSite: 'strict' } });
    expect(d.cause).toBe('no_session_middleware');
    expect(d.hint).toBe(SESSION_LOSS_HINTS.no_session_middleware);
    expect(d.hint).toContain('app.use(session(');
  });

  it('blames an expired or lost session when the session cookie came back', () => {
    const d = diagnose(local, { sessionCookiePresent: true, cookie: { name: 'sid', sameSite: 'strict' } });
    expect(d.cause).toBe('session_expired_or_store_lost');
    expect(d.hint).toContain('came back with the callback on localhost:3000');
    expect(d.hint).toContain('connect-redis');
    expect(d.hint).toContain('restarted');
  });

  it('names a callback that arrived on another host than the callback URL', () => {
    const d = diagnose(local, { callbackHost: '127.0.0.1:3000' });
    expect(d).toEqual({
      cause: 'host_mismatch',
      hint:
        'The login callback arrived on 127.0.0.1:3000 but the callback URL is localhost:3000, so the browser ' +
        'did not send the session cookie set on localhost:3000; open the app at http://localhost:3000 ' +
        "(the callback URL's host) and make any proxy pass the original Host header.",
    });
  });

  it('does not call a different port a host mismatch, since cookies ignore ports', () => {
    const d = diagnose(deployed, { callbackHost: 'app.example:8443', forwardedProto: undefined });
    expect(d.cause).not.toBe('host_mismatch');
  });

  it('does not call two hosts under the cookie domain a host mismatch', () => {
    const d = diagnose(deployed, {
      callbackHost: 'www.app.example',
      cookie: { name: 'app.sid', secure: true, sameSite: 'lax', domain: '.app.example' },
    });
    expect(d.cause).toBe('cookie_not_sent');
  });

  it('names an untrusted TLS proxy when X-Forwarded-Proto is https but req.protocol is http', () => {
    const d = diagnose(deployed, { callbackProtocol: 'http', trustProxy: false });
    expect(d.cause).toBe('proxy_not_trusted');
    expect(d.hint).toBe(SESSION_LOSS_HINTS.proxy_not_trusted);
    expect(d.hint).toContain("app.set('trust proxy', 1)");
  });

  it('reads the first hop of a multi-valued X-Forwarded-Proto', () => {
    const d = diagnose(deployed, {
      callbackProtocol: 'http',
      trustProxy: false,
      forwardedProto: 'HTTPS, http',
    });
    expect(d.cause).toBe('proxy_not_trusted');
  });

  it('suspects an untrusted proxy when the cookie options are unknown', () => {
    const d = diagnose(deployed, { callbackProtocol: 'http', trustProxy: false, cookie: undefined });
    expect(d.cause).toBe('proxy_not_trusted');
  });

  it('does not blame the proxy when the cookie is not Secure (it is issued over http anyway)', () => {
    const d = diagnose(deployed, {
      callbackProtocol: 'http',
      trustProxy: false,
      cookie: { name: 'app.sid', secure: 'auto', sameSite: 'lax' },
    });
    expect(d.cause).toBe('cookie_not_sent');
  });

  it('names a Secure cookie on a plain-http development app', () => {
    const d = diagnose(local, { cookie: { name: 'kle.sid', secure: true, sameSite: 'lax' } });
    expect(d.cause).toBe('secure_cookie_over_http');
    expect(d.hint).toContain('plain http on localhost:3000');
    expect(d.hint).toContain("cookie.secure to 'auto'");
  });

  it('names a __Host- cookie name on plain http, which browsers refuse without Secure', () => {
    const d = diagnose(local, { cookie: { name: '__Host-kle.sid', secure: 'auto', sameSite: 'lax' } });
    expect(d.cause).toBe('secure_cookie_over_http');
    expect(d.hint).toContain('__Host-');
  });

  it('names a TLS proxy that sends no X-Forwarded-Proto when an https callback arrives as http', () => {
    const d = diagnose(deployed, { callbackProtocol: 'http', forwardedProto: undefined, trustProxy: false });
    expect(d.cause).toBe('secure_cookie_over_http');
    expect(d.hint).toContain('X-Forwarded-Proto: https');
    expect(d.hint).toContain('plain http on app.example');
  });

  it.each<[string, boolean | 'strict']>([
    ["sameSite: 'strict'", 'strict'],
    ['sameSite: true (Strict)', true],
  ])('names SameSite=Strict (%s)', (_name, value) => {
    const d = diagnose(local, { cookie: { name: 'kle.sid', secure: false, sameSite: value } });
    expect(d.cause).toBe('samesite_strict');
    expect(d.hint).toBe(SESSION_LOSS_HINTS.samesite_strict);
    expect(d.hint).toContain("'lax'");
  });

  it('reads a SameSite value written in another case', () => {
    const cookie = { name: 'kle.sid', sameSite: 'Strict' as 'strict' };
    expect(diagnose(local, { cookie }).cause).toBe('samesite_strict');
  });

  it('names SameSite=None without Secure, which browsers reject', () => {
    const d = diagnose(local, { cookie: { name: 'kle.sid', secure: 'auto', sameSite: 'none' } });
    expect(d.cause).toBe('cookie_not_sent');
    expect(d.hint).toContain('SameSite=None without Secure');
  });

  it('accepts SameSite=None with a cookie that is Secure on this https request', () => {
    const d = diagnose(deployed, { cookie: { name: 'app.sid', secure: 'auto', sameSite: 'none' } });
    expect(d.hint).not.toContain('SameSite=None');
  });

  it('suspects another loopback name when a local callback lost its cookie for no other reason', () => {
    const d = diagnoseSessionLoss(local);
    expect(d.cause).toBe('host_mismatch');
    expect(d.hint).toContain('localhost, 127.0.0.1 and [::1] keep separate cookies');
    expect(d.hint).toContain('open the app at http://localhost:3000');
  });

  it('says cookies are blocked when the callback carried no cookie at all', () => {
    const d = diagnose(deployed, { cookieHeaderPresent: false });
    expect(d.cause).toBe('cookie_not_sent');
    expect(d.hint).toContain('without any cookie');
    expect(d.hint).toContain('https://app.example');
  });

  it('falls back to a cookie the browser did not send', () => {
    const d = diagnoseSessionLoss(deployed);
    expect(d.cause).toBe('cookie_not_sent');
    expect(d.hint).toContain('callback on app.example');
    expect(d.hint).toContain('/auth/kakao/callback');
  });

  it.each([
    ['a header with a line break', 'evil.example\r\nX-Injected: {origin}'],
    ['a URL with credentials', 'user:secret@evil.example'],
    ['a query string', 'evil.example/?code=SECRETCODE'],
    ['a cookie-like value', 'kle.sid=s%3Aabc'],
    ['a very long name', `${'a'.repeat(300)}.example`],
  ])('never copies an unusual Host header into the hint (%s)', (_name, callbackHost) => {
    const d = diagnose(local, { callbackHost, sessionCookiePresent: true });
    expect(d.hint).toContain('callback on an unrecognised host');
    expect(d.hint).not.toMatch(/evil|user:|SECRETCODE|%3A|aaaa|X-Injected/);
    expectOneSentence(d.hint);
  });

  it('gives every cause as one sentence with all placeholders filled', () => {
    const hints = [
      diagnose(local, { sessionMiddleware: false }),
      diagnose(local, { sessionCookiePresent: true }),
      diagnose(local, { callbackHost: '127.0.0.1:3000' }),
      diagnose(deployed, { callbackProtocol: 'http', trustProxy: false }),
      diagnose(local, { cookie: { name: 'kle.sid', secure: true } }),
      diagnose(deployed, { callbackProtocol: 'http', forwardedProto: undefined }),
      diagnose(local, { cookie: { name: 'kle.sid', sameSite: 'strict' } }),
      diagnose(local, { cookie: { name: 'kle.sid', sameSite: 'none' } }),
      diagnoseSessionLoss(local),
      diagnose(deployed, { cookieHeaderPresent: false }),
      diagnoseSessionLoss(deployed),
    ].map((d) => d.hint);
    expect(new Set(hints).size).toBe(hints.length);
    for (const hint of hints) expectOneSentence(hint);
  });
});

describe('diagnoseLoginStart', () => {
  const start: LoginStartEvidence = {
    requestHost: 'localhost:3000',
    requestProtocol: 'http',
    forwardedProto: undefined,
    trustProxy: false,
    callbackURL: 'http://localhost:3000/auth/kakao/callback',
    cookie: { name: 'kle.sid', secure: false, sameSite: 'lax' },
  };

  it('finds nothing wrong with a login started on the callback URL host', () => {
    expect(diagnoseLoginStart(start)).toBeUndefined();
  });

  it('names a login started on 127.0.0.1 whose callback goes to localhost', () => {
    expect(diagnoseLoginStart({ ...start, requestHost: '127.0.0.1:3000' })).toEqual({
      cause: 'host_mismatch',
      hint:
        'The login was started on 127.0.0.1:3000 but the callback URL is localhost:3000, so the session ' +
        'cookie set on 127.0.0.1:3000 will not be sent to the callback and the login will fail; open the app ' +
        "at http://localhost:3000 (the callback URL's host).",
    });
  });

  it('names a Secure cookie on a plain-http login start', () => {
    const d = diagnoseLoginStart({ ...start, cookie: { name: 'kle.sid', secure: true } });
    expect(d?.cause).toBe('secure_cookie_over_http');
  });

  it('names an untrusted TLS proxy at login start', () => {
    const d = diagnoseLoginStart({
      requestHost: 'app.example',
      requestProtocol: 'http',
      forwardedProto: 'https',
      trustProxy: false,
      callbackURL: 'https://app.example/auth/kakao/callback',
      cookie: { name: '__Host-app.sid', secure: true },
    });
    expect(d?.cause).toBe('proxy_not_trusted');
  });

  it('stays silent about the protocol when the cookie options are unknown', () => {
    const d = diagnoseLoginStart({
      requestHost: 'app.example',
      requestProtocol: 'http',
      forwardedProto: 'https',
      trustProxy: false,
      callbackURL: 'https://app.example/auth/kakao/callback',
      cookie: undefined,
    });
    expect(d).toBeUndefined();
  });
});

describe('safeHost', () => {
  it.each([
    ['localhost:3000', 'localhost:3000'],
    ['LOCALHOST:3000', 'localhost:3000'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]:3000', '[::1]:3000'],
    ['app.example:80', 'app.example'],
    ['redis_app:3000', 'redis_app:3000'],
  ])('keeps the host %s as %s', (raw, expected) => {
    expect(safeHost(raw)).toBe(expected);
  });

  it.each([undefined, '', 'a b', 'host:99999999', 'host:port', '<script>', 'a@b', 'a/b', 'a\nb'])(
    'rejects %j',
    (raw) => {
      expect(safeHost(raw)).toBeUndefined();
    },
  );
});

describe('configWarnings', () => {
  /** Local development as the example app runs it. */
  const development: StartupConfigEvidence = {
    callbackURL: 'http://localhost:3000/auth/kakao/callback',
    nodeEnv: undefined,
    sessionStore: 'memory',
    tokenStore: 'memory',
    scopes: ['profile_nickname', 'profile_image'],
    cookie: { secure: false, sameSite: 'lax' },
    trustProxy: undefined,
    generatedSecrets: true,
  };

  /** Production behind one TLS-terminating proxy. */
  const production: StartupConfigEvidence = {
    callbackURL: 'https://app.example/auth/kakao/callback',
    nodeEnv: 'production',
    sessionStore: 'redis',
    tokenStore: 'redis',
    scopes: ['profile_nickname', 'profile_image', 'openid'],
    cookie: { secure: true, sameSite: 'lax' },
    trustProxy: 1,
    generatedSecrets: false,
  };

  const codes = (evidence: StartupConfigEvidence) => configWarnings(evidence).map((w) => w.code);

  it('gives no warning for a correct localhost development configuration', () => {
    expect(configWarnings(development)).toEqual([]);
  });

  it('gives no warning for an https production configuration with Redis and trust proxy', () => {
    expect(configWarnings(production)).toEqual([]);
  });

  it('warns about an http callback URL outside localhost', () => {
    expect(configWarnings({ ...development, callbackURL: 'http://app.example/auth/kakao/callback' })).toEqual(
      [
        {
          code: 'insecure_callback',
          message:
            'The callback URL http://app.example uses http on a host other than localhost, so the authorization ' +
            'code and the session cookie travel unencrypted; use an https callback URL (and register it in the ' +
            'Kakao Developers console).',
        },
      ],
    );
  });

  it.each([
    'http://127.0.0.1:3000/cb',
    'http://[::1]:3000/cb',
    'http://app.localhost:3000/cb',
    'http://127.0.0.2/cb',
  ])('accepts http on the loopback host of %s', (callbackURL) => {
    expect(codes({ ...development, callbackURL })).toEqual([]);
  });

  it.each<[string, Partial<StartupConfigEvidence>, string]>([
    ['the session store', { tokenStore: 'redis' }, 'sessions are kept in memory'],
    ['the token store', { sessionStore: 'redis' }, 'Kakao tokens are kept in memory'],
    ['both stores', {}, 'sessions and Kakao tokens are kept in memory'],
  ])('warns about %s in memory with NODE_ENV=production', (_name, change, text) => {
    const warnings = configWarnings({
      ...production,
      sessionStore: 'memory',
      tokenStore: 'memory',
      ...change,
    });
    expect(warnings.map((w) => w.code)).toEqual(['memory_store_in_production']);
    expect(warnings[0]?.message).toContain(`NODE_ENV is production but ${text}`);
    expect(warnings[0]?.message).toContain('RedisTokenStore');
  });

  it('accepts in-memory stores outside production', () => {
    expect(codes({ ...development, nodeEnv: 'development' })).toEqual([]);
  });

  it.each([...BUSINESS_APP_SCOPES, 'legal_name', 'legal_birth_date', 'legal_gender'])(
    'warns that %s needs a business app and answers KOE205 otherwise',
    (scope) => {
      const warnings = configWarnings({ ...development, scopes: ['profile_nickname', scope] });
      expect(warnings.map((w) => w.code)).toEqual(['scope_needs_business_app']);
      expect(warnings[0]?.message).toContain(`The requested consent items ${scope} are only available`);
      expect(warnings[0]?.message).toContain('비즈 앱');
      expect(warnings[0]?.message).toContain('KOE205');
    },
  );

  it('lists every business scope once in one warning', () => {
    const warnings = configWarnings({
      ...development,
      scopes: ['account_email', 'profile_nickname', 'phone_number', 'account_email'],
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain('consent items account_email, phone_number are');
  });

  it.each(['profile_nickname', 'profile_image', 'openid', 'gender', 'age_range', 'birthday', 'legal'])(
    'does not flag %s',
    (scope) => {
      expect(codes({ ...development, scopes: [scope] })).toEqual([]);
    },
  );

  it.each<[string, boolean | 'strict']>([
    ["sameSite: 'strict'", 'strict'],
    ['sameSite: true', true],
  ])('warns about a Strict session cookie (%s)', (_name, sameSite) => {
    const warnings = configWarnings({ ...production, cookie: { secure: true, sameSite } });
    expect(warnings).toEqual([
      { code: 'samesite_strict', message: STARTUP_WARNING_MESSAGES.samesite_strict },
    ]);
    expect(warnings[0]?.message).toContain('cross-site navigation');
  });

  it('warns about a Secure cookie with an http callback URL', () => {
    const warnings = configWarnings({ ...development, cookie: { secure: true, sameSite: 'lax' } });
    expect(warnings.map((w) => w.code)).toEqual(['secure_cookie_over_http']);
    expect(warnings[0]?.message).toContain('the callback URL http://localhost:3000 is http');
    expect(warnings[0]?.message).toContain("cookie.secure to 'auto'");
  });

  it("accepts secure: 'auto' with an http callback URL", () => {
    expect(codes({ ...development, cookie: { secure: 'auto', sameSite: 'lax' } })).toEqual([]);
  });

  it.each([undefined, false, 0, ''])(
    'warns, conditionally, about an https callback with trust proxy %j',
    (trustProxy) => {
      const warnings = configWarnings({ ...production, trustProxy });
      expect(warnings.map((w) => w.code)).toEqual(['trust_proxy_unset']);
      expect(warnings[0]?.message).toContain('if a proxy in front of the app terminates TLS');
    },
  );

  it.each([1, 'loopback', '10.0.0.0/8', true])('accepts trust proxy %j', (trustProxy) => {
    expect(codes({ ...production, trustProxy })).toEqual([]);
  });

  it('warns about generated secrets in production', () => {
    const warnings = configWarnings({ ...production, generatedSecrets: true });
    expect(warnings).toEqual([{ code: 'random_secrets', message: STARTUP_WARNING_MESSAGES.random_secrets }]);
    expect(warnings[0]?.message).toContain('SESSION_SECRET');
  });

  it('lists several warnings in a stable order, each one sentence with placeholders filled', () => {
    const warnings = configWarnings({
      callbackURL: 'http://app.example/auth/kakao/callback',
      nodeEnv: 'production',
      sessionStore: 'memory',
      tokenStore: 'other',
      scopes: ['account_email'],
      cookie: { secure: true, sameSite: 'strict' },
      trustProxy: undefined,
      generatedSecrets: true,
    });
    expect(warnings.map((w) => w.code)).toEqual([
      'insecure_callback',
      'memory_store_in_production',
      'scope_needs_business_app',
      'samesite_strict',
      'secure_cookie_over_http',
      'random_secrets',
    ]);
    for (const w of warnings) expectOneSentence(w.message);
  });

  it('skips the URL checks without throwing when the callback URL does not parse', () => {
    expect(codes({ ...development, callbackURL: 'not a url' })).toEqual([]);
  });
});
