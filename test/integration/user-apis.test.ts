import { KakaoAdminClient } from '../../lib/admin-client';
import { KakaoApiError } from '../../lib/errors';
import { KakaoClient } from '../../lib/kakao-client';
import { parseProfile } from '../../lib/profile';
import {
  createKakaoEmulator,
  type KakaoEmulator,
  type KakaoEmulatorOptions,
} from 'kakao-login-express/testing';

const REDIRECT_URI = 'http://127.0.0.1:9/auth/kakao/callback';
const MINJI = '4120937465';
const JIHO = '1376016924429759228';
const SEOYEON = '3000000003';

const running: KakaoEmulator[] = [];

async function start(
  options: KakaoEmulatorOptions = {},
): Promise<{ emulator: KakaoEmulator; kakao: KakaoClient }> {
  const emulator = await createKakaoEmulator({ tokenRateLimit: false, ...options });
  running.push(emulator);
  const kakao = new KakaoClient({ ...emulator.strategyOptions });
  return { emulator, kakao };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

/** Logs the user in at the emulator (consent decision over the control API) and exchanges the code. */
async function tokensFor(
  emulator: KakaoEmulator,
  kakao: KakaoClient,
  userId: string,
  options: { scopes?: string[]; scope?: string } = {},
) {
  const query = new URLSearchParams({
    client_id: emulator.clientID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
  });
  if (options.scope) query.set('scope', options.scope);
  const response = await fetch(`${emulator.url}/_emulator/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-emulator-token': emulator.controlToken },
    body: JSON.stringify({
      authorizeUrl: `${emulator.authOrigin}/oauth/authorize?${query.toString()}`,
      userId,
      scopes: options.scopes,
    }),
  });
  const { location } = (await response.json()) as { location: string };
  const code = new URL(location).searchParams.get('code')!;
  // The emulator checks PKCE only when a challenge was sent; this login sent none.
  return kakao.exchangeCode({ code, redirectUri: REDIRECT_URI, codeVerifier: 'v'.repeat(43) });
}

async function apiError(promise: Promise<unknown>): Promise<KakaoApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KakaoApiError) return error;
    throw error;
  }
  throw new Error('expected a KakaoApiError');
}

describe('consent items', () => {
  test('getScopes lists the console items with agreed/revocable; revokeScopes revokes and /v2/user/me follows', async () => {
    const { emulator, kakao } = await start({ requiredConsentItems: ['profile_nickname'] });
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI, {
      scopes: ['profile_nickname', 'account_email', 'gender'],
    });
    const before = await kakao.getScopes(token);
    expect(before.id).toBe(MINJI);
    const byId = Object.fromEntries(before.scopes.map((scope) => [scope.id, scope]));
    expect(byId.profile_nickname).toMatchObject({
      agreed: true,
      revocable: false,
      type: 'PRIVACY',
      using: true,
    });
    expect(byId.account_email).toMatchObject({ agreed: true, revocable: true });
    expect(byId.birthday).toMatchObject({ agreed: false });
    expect(byId.birthday!.revocable).toBeUndefined();
    expect((await kakao.getScopes(token, { scopes: ['gender'] })).scopes.map((s) => s.id)).toEqual([
      'gender',
    ]);
    expect(emulator.requests.at(-1)?.query.scopes).toBe('["gender"]');

    const after = await kakao.revokeScopes(token, ['account_email']);
    expect(after.scopes.find((scope) => scope.id === 'account_email')).toMatchObject({ agreed: false });
    expect(emulator.requests.at(-1)?.form.scopes).toBe('["account_email"]');
    const profile = parseProfile(await kakao.getUser(token));
    expect(profile.email).toBeUndefined();
    expect(profile.missingConsents).toContain('account_email');
  });

  test('a required item cannot be revoked (-3, 403) and an unknown one is -2', async () => {
    const { emulator, kakao } = await start({ requiredConsentItems: ['profile_nickname'] });
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
    expect(await apiError(kakao.revokeScopes(token, ['profile_nickname']))).toMatchObject({
      status: 403,
      apiCode: -3,
    });
    expect(await apiError(kakao.revokeScopes(token, ['talk_message']))).toMatchObject({
      status: 400,
      apiCode: -2,
    });
  });
});

describe('service terms (Kakao Sync)', () => {
  const serviceTerms = [
    { tag: 'terms_of_service', required: true },
    { tag: 'marketing', required: false },
  ];

  test('terms agreed at first login are listed; app_service_terms lists every term; revoking a optional one works', async () => {
    const { emulator, kakao } = await start({ serviceTerms });
    const { access_token: token } = await tokensFor(emulator, kakao, JIHO);
    const agreed = await kakao.getServiceTerms(token);
    expect(agreed.id).toBe(JIHO);
    expect(agreed.serviceTerms.map((term) => [term.tag, term.agreed, term.revocable])).toEqual([
      ['terms_of_service', true, false],
      ['marketing', true, true],
    ]);
    expect(agreed.serviceTerms[0]!.agreedAt).toBeInstanceOf(Date);
    expect(agreed.serviceTerms[0]!.agreedBy).toBe('KAUTH');

    const revoked = await kakao.revokeServiceTerms(token, ['marketing']);
    expect(revoked).toEqual({ id: JIHO, revokedServiceTerms: [{ tag: 'marketing', agreed: false }] });
    expect(emulator.requests.at(-1)?.form.tags).toBe('marketing');
    expect((await kakao.getServiceTerms(token)).serviceTerms.map((term) => term.tag)).toEqual([
      'terms_of_service',
    ]);
    const all = await kakao.getServiceTerms(token, { result: 'app_service_terms', tags: ['marketing'] });
    expect(all.serviceTerms).toEqual([
      { tag: 'marketing', required: false, agreed: false, revocable: false },
    ]);
    expect(await apiError(kakao.revokeServiceTerms(token, ['terms_of_service']))).toMatchObject({
      apiCode: -3,
    });
  });

  test('without Kakao Sync the API answers -3', async () => {
    const { emulator, kakao } = await start();
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
    expect(await apiError(kakao.getServiceTerms(token))).toMatchObject({ status: 403, apiCode: -3 });
  });
});

describe('manual sign-up and user properties', () => {
  test('with auto-link off a new user is preregistered until signup; a second signup is -102', async () => {
    const { emulator, kakao } = await start({ autoLink: false, userPropertyKeys: ['tier'] });
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
    const preregistered = parseProfile(await kakao.getUser(token));
    expect(preregistered.hasSignedUp).toBe(false);
    expect(preregistered.nickname).toBe('Minji');
    expect(preregistered.gender).toBeUndefined();
    expect(emulator.getUser(MINJI)).toMatchObject({ linked: true, hasSignedUp: false });

    expect(await apiError(kakao.signup(token, { properties: { level: '3' } }))).toMatchObject({
      apiCode: -201,
    });
    await expect(kakao.signup(token, { properties: { tier: 'gold' } })).resolves.toEqual({ id: MINJI });
    expect(emulator.requests.at(-1)?.form.properties).toBe('{"tier":"gold"}');
    const signedUp = parseProfile(await kakao.getUser(token));
    expect(signedUp).toMatchObject({ hasSignedUp: true, gender: 'female' });
    expect(signedUp._json.properties).toEqual({ tier: 'gold' });
    expect(await apiError(kakao.signup(token))).toMatchObject({ status: 400, apiCode: -102 });
  });

  test('with auto-link on there is no has_signed_up, and signup is -102', async () => {
    const { emulator, kakao } = await start();
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
    expect(parseProfile(await kakao.getUser(token)).hasSignedUp).toBeUndefined();
    expect(await apiError(kakao.signup(token))).toMatchObject({ apiCode: -102 });
  });

  test('updateProfile stores properties; an unregistered key is -201', async () => {
    const { emulator, kakao } = await start({ userPropertyKeys: ['tier', 'team'] });
    const { access_token: token } = await tokensFor(emulator, kakao, SEOYEON);
    await expect(kakao.updateProfile(token, { tier: 'gold', team: 'red' })).resolves.toEqual({ id: SEOYEON });
    expect((await kakao.getUser(token)).properties).toEqual({ tier: 'gold', team: 'red' });
    expect(await apiError(kakao.updateProfile(token, { nope: 'x' }))).toMatchObject({ apiCode: -201 });
    await expect(kakao.updateProfile(token, {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

describe('OIDC user info and secure_resource', () => {
  test('getOidcUserInfo returns the standard claims; the gender case follows the emulator knob', async () => {
    for (const [oidcGenderCase, gender] of [
      ['lower', 'female'],
      ['upper', 'FEMALE'],
    ] as const) {
      const { emulator, kakao } = await start({ oidc: true, oidcGenderCase });
      const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
      expect(await kakao.getOidcUserInfo(token)).toMatchObject({
        sub: MINJI,
        nickname: 'Minji',
        email: 'minji@example.test',
        email_verified: true,
        gender,
      });
    }
  });

  test('without OIDC the user info API answers -3', async () => {
    const { emulator, kakao } = await start();
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
    expect(await apiError(kakao.getOidcUserInfo(token))).toMatchObject({ status: 403, apiCode: -3 });
  });

  test('getUser asks for https images by default', async () => {
    const { emulator, kakao } = await start();
    const { access_token: token } = await tokensFor(emulator, kakao, MINJI);
    await kakao.getUser(token);
    expect(emulator.requests.at(-1)?.query.secure_resource).toBe('true');
  });
});

describe('admin client: several users and the id list', () => {
  test.each(['array', 'elements'] as const)(
    'listUsers reads /v2/app/users answered as %s',
    async (appUsersShape) => {
      const { emulator, kakao } = await start({ appUsersShape });
      for (const id of [MINJI, JIHO]) await tokensFor(emulator, kakao, id);
      const admin = new KakaoAdminClient({ adminKey: emulator.adminKey, apiOrigin: emulator.apiOrigin });
      const users = await admin.listUsers([JIHO, MINJI, SEOYEON]);
      expect(users.map((user) => user.id).sort()).toEqual([JIHO, MINJI].sort());
      expect(emulator.requests.at(-1)?.query.target_ids).toBe(`[${JIHO},${MINJI},${SEOYEON}]`);
      const narrowed = await admin.listUsers([MINJI], { propertyKeys: ['kakao_account.email'] });
      expect(narrowed[0]!.kakao_account?.email).toBe('minji@example.test');
      await expect(
        admin.listUsers(
          Array.from({ length: 21 }, (_, i) => String(i + 1)),
          { propertyKeys: ['x'] },
        ),
      ).rejects.toThrow(/1 to 20/);
    },
  );

  test.each([false, true])(
    'listAllUserIds yields every id once when from_id inclusive is %s',
    async (inclusive) => {
      const { emulator, kakao } = await start({ userIdsFromIdInclusive: inclusive });
      const ids = ['9000000001', '9000000002', '9000000003', '9000000004', '9000000005'];
      for (const id of ids) {
        emulator.addUser({ id });
        await tokensFor(emulator, kakao, id);
      }
      const admin = new KakaoAdminClient({ adminKey: emulator.adminKey, apiOrigin: emulator.apiOrigin });
      const seen: string[] = [];
      for await (const id of admin.listAllUserIds({ limit: 2 })) seen.push(id);
      expect(seen).toEqual(ids);
      const pages = emulator.requests.filter((request) => request.endpoint === 'user_ids');
      // Inclusive pages repeat the last id of the page before, so they advance one id less each time.
      expect(pages).toHaveLength(inclusive ? 4 : 3);
    },
  );
});
