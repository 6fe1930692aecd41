import { KakaoStrategy } from '../../lib/strategy';
import { kakaoAuth } from '../../lib/kakao-auth/index';

const verify = () => {};
const base = { clientID: 'rest-key', callbackURL: 'https://app.example/auth/kakao/callback' };

describe('KakaoStrategy configuration', () => {
  test('is named kakao and keeps the callback URL verbatim', () => {
    const strategy = new KakaoStrategy(base, verify);
    expect(strategy.name).toBe('kakao');
    expect(strategy.appOrigin).toBe('https://app.example');
    expect(strategy.callbackPath).toBe('/auth/kakao/callback');
  });

  test('does not mutate or keep a reference to the caller options', () => {
    const options = { ...base, scope: ['profile_nickname'] };
    const copy = JSON.parse(JSON.stringify(options));
    new KakaoStrategy(options, verify);
    expect(options).toEqual(copy);
  });

  test.each([
    [{ ...base, clientID: '' }, /"clientID" must be a non-empty string.*REST API key/],
    [
      { ...base, callbackURL: '/cb' },
      /"callbackURL" must be an absolute http\(s\) URL registered as a Redirect URI/,
    ],
    [{ ...base, callbackURL: 'ftp://x/cb' }, /"callbackURL" must be an absolute http\(s\) URL/],
    [{ ...base, clientSecret: '' }, /"clientSecret" must be a non-empty string/],
    [
      { ...base, authOrigin: 'https://kauth.kakao.com/oauth' },
      /"authOrigin" must be an origin without a path/,
    ],
    [{ ...base, prompt: 'consent' }, /"prompt" must be one or more of login, none, create, select_account/],
    [{ ...base, scope: 'profile nickname!' }, /scope "nickname!" is not a Kakao consent item id/],
    [{ ...base, timeoutMs: 0 }, /"timeoutMs" must be a positive integer/],
    [{ ...base, clientId: 'x' }, /unknown option "clientId"; did you mean "clientID"\?/],
    [{ ...base, callbackUrl: 'x' }, /unknown option "callbackUrl"; did you mean "callbackURL"\?/],
  ])('rejects %j with a message that teaches the fix', (options, message) => {
    let error: unknown;
    try {
      new KakaoStrategy(options as never, verify);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError & { code: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((error as Error).message).toMatch(message);
  });

  test('requires a verify callback', () => {
    expect(() => new KakaoStrategy(base, undefined as never)).toThrow(/verify callback is required/);
  });

  test('never prints the client secret in a configuration error', () => {
    expect(() => new KakaoStrategy({ ...base, clientSecret: 'top secret value' }, verify)).toThrow(TypeError);
    try {
      new KakaoStrategy({ ...base, clientSecret: 'top secret value' }, verify);
    } catch (err) {
      expect((err as Error).message).not.toContain('top secret');
    }
  });
});

describe('kakaoAuth configuration', () => {
  test('rejects unknown options with a suggestion', () => {
    expect(() => kakaoAuth({ ...base, logoutPth: '/bye' } as never)).toThrow(/did you mean "logoutPath"/);
  });

  test('rejects a login path that is not a path', () => {
    expect(() => kakaoAuth({ ...base, loginPath: 'auth/kakao' })).toThrow(/"loginPath" must be a path/);
  });

  test('refuses strategy options next to a ready strategy', () => {
    const strategy = new KakaoStrategy(base, verify);
    // The options type refuses this already; the check is for JavaScript callers.
    expect(() => kakaoAuth({ strategy, clientID: 'x' } as never)).toThrow(
      /"clientID" cannot be combined with "strategy"/,
    );
  });

  test('mounts its routes on a router and exposes helpers', () => {
    const router = kakaoAuth(base);
    expect(typeof router).toBe('function');
    expect(router.strategy).toBeInstanceOf(KakaoStrategy);
    expect(typeof router.getAccessToken).toBe('function');
  });
});
