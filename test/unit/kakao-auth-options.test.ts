import { KakaoStrategy } from '../../lib/strategy';
import { kakaoAuth } from '../../lib/kakao-auth/index';
import { startupWarnings } from '../../lib/kakao-auth/startup';
import { MemoryTokenStore } from '../../lib/stores/memory-token-store';
import { createTokenCipher, generateKeyRing } from '../../lib/token-cipher';
import { randomBytes } from 'node:crypto';
import type { TokenStore } from '../../lib/stores/contracts';

const base = { clientID: 'rest-key', callbackURL: 'https://app.example/auth/kakao/callback' };
const realCipher = () => createTokenCipher({ keys: [{ kid: 'k1', key: randomBytes(32) }] });
/** A stand-in for a shared store: what matters here is only that it is not the in-memory one. */
const sharedStore = (): TokenStore => {
  const memory = new MemoryTokenStore();
  return {
    get: (k) => memory.get(k),
    set: (k, v, t) => memory.set(k, v, t),
    compareAndSet: (k, e, v, t) => memory.compareAndSet(k, e, v, t),
    delete: (k) => memory.delete(k),
    listLogins: (u) => memory.listLogins(u),
    deleteUser: (u) => memory.deleteUser(u),
  };
};

describe('kakaoAuth with NODE_ENV=production', () => {
  const env = process.env.NODE_ENV;
  beforeEach(() => {
    process.env.NODE_ENV = 'production';
  });
  afterEach(() => {
    process.env.NODE_ENV = env;
  });

  test('refuses the in-memory token store, with the fix', () => {
    expect(() => kakaoAuth({ ...base, tokenCipher: realCipher() })).toThrow(
      /NODE_ENV=production[\s\S]*"tokenStore" is the in-memory store: pass tokenStore: new RedisTokenStore/,
    );
  });

  test('refuses a generated key, with the fix', () => {
    expect(() => kakaoAuth({ ...base, tokenStore: sharedStore() })).toThrow(
      /"tokenCipher" uses a key generated for this process/,
    );
    expect(() =>
      kakaoAuth({
        ...base,
        tokenStore: sharedStore(),
        tokenCipher: createTokenCipher({ keys: generateKeyRing() }),
      }),
    ).toThrow(/createTokenCipher\(\{ keys: parseKeyRing\(process\.env\.TOKEN_ENCRYPTION_KEYS\) \}\)/);
  });

  test('refuses an http callback outside localhost, and names every problem at once', () => {
    let message = '';
    try {
      kakaoAuth({ clientID: 'k', callbackURL: 'http://app.example/auth/kakao/callback' });
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    }
    expect(message).toMatch(/"tokenStore"/);
    expect(message).toMatch(/"tokenCipher"/);
    expect(message).toMatch(/"callbackURL" is http \(http:\/\/app\.example\)/);
  });

  test('starts with a shared store, real keys and an https callback', () => {
    expect(() => kakaoAuth({ ...base, tokenStore: sharedStore(), tokenCipher: realCipher() })).not.toThrow();
    expect(() =>
      kakaoAuth({
        clientID: 'k',
        callbackURL: 'http://localhost:3000/cb',
        tokenStore: sharedStore(),
        tokenCipher: realCipher(),
      }),
    ).not.toThrow();
  });

  test('a strategy used without kakaoAuth needs a transactionSecret', () => {
    expect(() => new KakaoStrategy(base, (_a, _r, _t, _p, done) => done(null, false))).toThrow(
      /"transactionSecret" is required in production[\s\S]*transactionSecret: process\.env\.SESSION_SECRET/,
    );
    expect(
      () =>
        new KakaoStrategy(
          { ...base, transactionSecret: 'a-long-enough-session-secret' },
          (_a, _r, _t, _p, done) => done(null, false),
        ),
    ).not.toThrow();
  });
});

describe('the verify callback', () => {
  test("refuses passport-kakao's 4-argument form, saying what to change", () => {
    const passportKakaoStyle = (
      _accessToken: string,
      _refreshToken: string,
      _profile: unknown,
      done: () => void,
    ) => done();
    expect(() => new KakaoStrategy(base, passportKakaoStyle as never)).toThrow(
      /takes 4 arguments \(accessToken, refreshToken, profile, done\), passport-kakao's form[\s\S]*add a "tokens" parameter before "profile"/,
    );
  });

  test('refuses the 5-argument form with passReqToCallback', () => {
    const withReq = (_req: unknown, _a: string, _r: string, _p: unknown, done: () => void) => done();
    expect(() => new KakaoStrategy({ ...base, passReqToCallback: true }, withReq as never)).toThrow(
      /\(req, accessToken, refreshToken, profile, done\)/,
    );
  });

  test('accepts the 5- and 6-argument forms and rest parameters', () => {
    expect(() => new KakaoStrategy(base, (_a, _r, _t, _p, done) => done(null, false))).not.toThrow();
    expect(
      () =>
        new KakaoStrategy({ ...base, passReqToCallback: true }, (_q, _a, _r, _t, _p, done) =>
          done(null, false),
        ),
    ).not.toThrow();
    expect(() => new KakaoStrategy(base, ((...args: unknown[]) => args) as never)).not.toThrow();
  });
});

describe('startupWarnings()', () => {
  test('needs no hand-built evidence: it reads the routers of this process', () => {
    const auth = kakaoAuth({
      clientID: 'k',
      callbackURL: 'http://app.example/auth/kakao/callback',
      scope: 'account_email',
    });
    const codes = startupWarnings({ router: auth }).map((w) => w.code);
    expect(codes).toEqual(['insecure_callback', 'scope_needs_business_app']);
    expect(startupWarnings().map((w) => w.code)).toEqual(expect.arrayContaining(['insecure_callback']));
  });

  test('takes what only the app knows: trust proxy and the session cookie', () => {
    const auth = kakaoAuth(base);
    expect(startupWarnings({ router: auth }).map((w) => w.code)).toEqual(['trust_proxy_unset']);
    expect(
      startupWarnings({ router: auth, trustProxy: 1, cookie: { sameSite: 'strict' } }).map((w) => w.code),
    ).toEqual(['samesite_strict']);
  });
});
