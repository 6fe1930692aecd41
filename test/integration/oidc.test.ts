import type { EmulatorIdTokenFault } from 'kakao-login-express/testing';
import { login, startHarness, type Harness } from '../helpers/harness';

const MINJI = '4120937465';
const OIDC_ENV = { KAKAO_OIDC: 'true' };
/** OpenID Connect on "in the console": without it Kakao (and the emulator) refuses scope=openid (KOE205). */
const OIDC_EMULATOR = { oidc: true };

/**
 * The app's clock (the ID-token verifier and its JWKS cache use it). Tests move it forward together with
 * the emulator's, so the ID tokens stay fresh in the app's eyes.
 */
function movableClock(): { now: () => number; advance(h: Harness, ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(h: Harness, ms: number) {
      offset += ms;
      h.emulator.advanceClock(ms);
    },
  };
}

function failureReasons(h: Harness): string[] {
  return h.events.filter((e) => e.event === 'login_failed').map((e) => String(e.reason));
}

describe('OpenID Connect login through the example app (KAKAO_OIDC=true)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: OIDC_ENV, emulator: OIDC_EMULATOR });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.emulator.setIdTokenFault(undefined);
    h.emulator.resetRequests();
    h.events.length = 0;
  });

  test('a login verifies the ID token and signs the user in', async () => {
    const agent = h.agent();
    const res = await login(h, agent, { returnTo: '/me' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/me');
    const me = await agent.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: MINJI, nickname: 'Minji' });
    const tokenRequest = h.emulator.requests.find((r) => r.endpoint === 'token');
    expect(tokenRequest?.form.grant_type).toBe('authorization_code');
    expect(h.emulator.count('jwks')).toBeLessThanOrEqual(1);
    expect(failureReasons(h)).toEqual([]);
  });

  test('the authorize URL sends no scope (OIDC is on in the console) and a fresh nonce of at least 128 bits each time', async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const start = await h.agent().get('/auth/kakao').redirects(0);
      const url = new URL(start.headers.location!);
      expect(url.searchParams.has('scope')).toBe(false);
      const nonce = url.searchParams.get('nonce');
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      nonces.add(nonce!);
    }
    expect(nonces.size).toBe(20);
  });

  test('a scope that is sent includes openid, and the login still gets its ID token', async () => {
    const h2 = await startHarness({
      env: { KAKAO_OIDC: 'true', KAKAO_SCOPES: 'profile_nickname' },
      emulator: { oidc: true },
    });
    try {
      const start = await h2.agent().get('/auth/kakao').redirects(0);
      expect(new URL(start.headers.location!).searchParams.get('scope')).toBe('openid,profile_nickname');
      expect((await login(h2, h2.agent())).headers.location).toBe('/');
    } finally {
      await h2.close();
    }
  });

  test('the nonce sent to Kakao is the one the ID token carries back', async () => {
    await login(h, h.agent());
    const authorize = h.emulator.requests.find((r) => r.endpoint === 'authorize');
    expect(typeof authorize?.query.nonce).toBe('string');
  });

  const badTokens: [EmulatorIdTokenFault, string][] = [
    ['bad_signature', 'signature'],
    ['alg_none', 'alg'],
    ['hs256', 'alg'],
    ['wrong_iss', 'iss'],
    ['wrong_aud', 'aud'],
    ['multiple_aud_without_azp', 'azp'],
    ['missing_iat', 'iat'],
    ['iat_too_old', 'iat'],
    ['expired', 'exp'],
    ['missing_sub', 'sub'],
    ['wrong_nonce', 'nonce'],
    ['missing_nonce', 'nonce'],
    ['wrong_at_hash', 'at_hash'],
    ['unknown_kid', 'kid'],
    ['jku_header', 'header'],
  ];
  test.each(badTokens)(
    'an ID token with fault %s ends in a failed login (reason %s), no session and no 5xx',
    async (fault, reason) => {
      h.emulator.setIdTokenFault(fault);
      const agent = h.agent();
      const res = await login(h, agent);
      expect(res.status).toBe(302);
      expect(res.headers.location).toBe('/?login_error=id_token_invalid');
      expect((await agent.get('/me')).status).toBe(401);
      expect(failureReasons(h)).toEqual([`id_token_${reason}`]);
      // The user-info call never happens with an unverified token.
      expect(h.emulator.count('user_me')).toBe(0);
    },
  );

  test('an ID token about another user than /v2/user/me is refused', async () => {
    h.emulator.setIdTokenFault('other_sub');
    const agent = h.agent();
    const res = await login(h, agent);
    expect(res.headers.location).toBe('/?login_error=id_token_invalid');
    expect((await agent.get('/me')).status).toBe(401);
    expect(failureReasons(h)).toEqual(['id_token_sub_mismatch']);
  });

  test('the control API sets and clears the ID-token fault', async () => {
    const token = { 'x-emulator-token': h.emulator.controlToken };
    const set = await fetch(`${h.emulator.url}/_emulator/id-token-fault`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...token },
      body: JSON.stringify({ kind: 'wrong_iss' }),
    });
    expect(set.status).toBe(204);
    expect((await login(h, h.agent())).headers.location).toBe('/?login_error=id_token_invalid');
    const bad = await fetch(`${h.emulator.url}/_emulator/id-token-fault`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...token },
      body: JSON.stringify({ kind: 'nonsense' }),
    });
    expect(bad.status).toBe(400);
    const cleared = await fetch(`${h.emulator.url}/_emulator/id-token-fault`, {
      method: 'DELETE',
      headers: token,
    });
    expect(cleared.status).toBe(204);
    expect((await login(h, h.agent())).headers.location).toBe('/');
  });
});

describe('JWKS fetching and key rotation (KAKAO_OIDC=true)', () => {
  let h: Harness;
  const clock = movableClock();
  beforeAll(async () => {
    h = await startHarness({ env: OIDC_ENV, emulator: OIDC_EMULATOR, overrides: { now: clock.now } });
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.emulator.setIdTokenFault(undefined);
    h.events.length = 0;
  });

  test('random kids refetch the JWKS at most once per 30 s cooldown', async () => {
    expect((await login(h, h.agent())).headers.location).toBe('/');
    h.emulator.resetRequests();
    h.emulator.setIdTokenFault('unknown_kid');
    clock.advance(h, 31_000);
    for (let i = 0; i < 5; i++) {
      expect((await login(h, h.agent())).headers.location).toBe('/?login_error=id_token_invalid');
    }
    expect(h.emulator.count('jwks')).toBe(1);
    clock.advance(h, 31_000);
    for (let i = 0; i < 3; i++) await login(h, h.agent());
    expect(h.emulator.count('jwks')).toBe(2);
    expect(failureReasons(h).every((r) => r === 'id_token_kid')).toBe(true);
  });

  test('rp-key-rotation-op-sign-key: after Kakao rotates its key (old one withdrawn) the next login succeeds', async () => {
    clock.advance(h, 31_000);
    expect((await login(h, h.agent())).headers.location).toBe('/');
    await h.emulator.rotateSigningKey({ keepOld: false });
    clock.advance(h, 31_000);
    h.emulator.resetRequests();
    const agent = h.agent();
    expect((await login(h, agent)).headers.location).toBe('/');
    expect((await agent.get('/me')).body.id).toBe(MINJI);
    expect(h.emulator.count('jwks')).toBe(1);
  });

  test('rp-id_token-kid-absent-single-jwks / -multiple-jwks: no kid is fine with one key, refused with two', async () => {
    await h.emulator.rotateSigningKey({ keepOld: false });
    clock.advance(h, 31_000);
    h.emulator.setIdTokenFault('kid_absent');
    // The JWKS is refetched on the next unknown kid or after 10 minutes; force the latter.
    clock.advance(h, 600_000);
    expect((await login(h, h.agent())).headers.location).toBe('/');
    const rotated = await fetch(`${h.emulator.url}/_emulator/rotate-signing-key`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-emulator-token': h.emulator.controlToken },
      body: JSON.stringify({ keepOld: true }),
    });
    expect(rotated.status).toBe(204);
    const jwks = (await (await fetch(`${h.emulator.url}/.well-known/jwks.json`)).json()) as {
      keys: unknown[];
    };
    expect(jwks.keys).toHaveLength(2);
    clock.advance(h, 600_000);
    expect((await login(h, h.agent())).headers.location).toBe('/?login_error=id_token_invalid');
    expect(failureReasons(h)).toEqual(['id_token_kid']);
  });
});

describe('an unreachable JWKS (KAKAO_OIDC=true)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: OIDC_ENV, emulator: OIDC_EMULATOR });
  });
  afterAll(async () => {
    await h.close();
  });

  test('answers 502 and signs nobody in', async () => {
    h.emulator.injectFault({ endpoint: 'jwks', kind: 'html_500', times: 1 });
    const agent = h.agent();
    const res = await login(h, agent);
    expect(res.status).toBe(502);
    expect((await agent.get('/me')).status).toBe(401);
    // The next login, with Kakao back, works.
    expect((await login(h, h.agent())).headers.location).toBe('/');
  });
});
