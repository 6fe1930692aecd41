import { buildAuthorizeUrl } from '../../lib/kakao-urls';

const input = {
  authOrigin: 'https://kauth.kakao.com',
  clientID: 'key',
  redirectUri: 'https://app.example/cb',
  state: 'S',
  codeChallenge: 'C',
  scope: ['profile_nickname', 'account_email'],
  prompt: [],
  serviceTerms: [],
};

describe('buildAuthorizeUrl', () => {
  test('sends the code flow parameters with S256 and comma-separated scopes', () => {
    const url = new URL(buildAuthorizeUrl(input));
    expect(url.origin + url.pathname).toBe('https://kauth.kakao.com/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'key',
      redirect_uri: 'https://app.example/cb',
      response_type: 'code',
      scope: 'profile_nickname,account_email',
      state: 'S',
      code_challenge: 'C',
      code_challenge_method: 'S256',
    });
  });

  test('adds prompt, login_hint, service_terms and nonce only when set', () => {
    const url = new URL(
      buildAuthorizeUrl({
        ...input,
        prompt: ['login', 'select_account'],
        loginHint: 'a@b.c',
        serviceTerms: ['t1', 't2'],
        nonce: 'N',
      }),
    );
    expect(url.searchParams.get('prompt')).toBe('login,select_account');
    expect(url.searchParams.get('login_hint')).toBe('a@b.c');
    expect(url.searchParams.get('service_terms')).toBe('t1,t2');
    expect(url.searchParams.get('nonce')).toBe('N');
  });

  test('omits scope when none is configured', () => {
    expect(new URL(buildAuthorizeUrl({ ...input, scope: [] })).searchParams.has('scope')).toBe(false);
  });
});
