import { IdTokenError } from '../../lib/errors';
import { createIdTokenVerifier } from '../../lib/id-token';
import { KakaoClient } from '../../lib/kakao-client';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';

const REDIRECT_URI = 'http://127.0.0.1:9/auth/kakao/callback';
const MINJI = '4120937465';

let offset = 0;
const now = (): number => Date.now() + offset;
let emulator: KakaoEmulator;

beforeEach(async () => {
  offset = 0;
  emulator = await createKakaoEmulator({ oidc: true, tokenRateLimit: false, now });
});

afterEach(async () => {
  await emulator.close();
});

/** Moves the app's clock and the emulator's (which shares it) forward together. */
function advance(ms: number): void {
  offset += ms;
}

/** A fresh login at the emulator: the ID token and the access token issued with it. */
async function login(nonce: string): Promise<{ idToken: string; accessToken: string }> {
  const query = new URLSearchParams({
    client_id: emulator.clientID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    nonce,
  });
  const decided = await fetch(`${emulator.url}/_emulator/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-emulator-token': emulator.controlToken },
    body: JSON.stringify({
      authorizeUrl: `${emulator.authOrigin}/oauth/authorize?${query.toString()}`,
      userId: MINJI,
    }),
  });
  const { location } = (await decided.json()) as { location: string };
  const tokens = await new KakaoClient({ ...emulator.strategyOptions }).exchangeCode({
    code: new URL(location).searchParams.get('code')!,
    redirectUri: REDIRECT_URI,
    codeVerifier: 'v'.repeat(43),
  });
  return { idToken: tokens.id_token!, accessToken: tokens.access_token };
}

async function outcome(verify: () => Promise<unknown>): Promise<string> {
  try {
    await verify();
    return 'accepted';
  } catch (error) {
    if (error instanceof IdTokenError) return error.reason;
    throw error;
  }
}

test("a key Kakao rotates abruptly right after a scheduled JWKS fetch is used at once; random kids still can't drive fetches", async () => {
  const verifier = createIdTokenVerifier({
    issuer: emulator.issuer,
    clientID: emulator.clientID,
    jwksUri: `${emulator.url}/.well-known/jwks.json`,
    now,
  });
  const verifyLogin = async (): Promise<string> => {
    const { idToken, accessToken } = await login('n-rotation-0123456789');
    return outcome(() => verifier.verify(idToken, { nonce: 'n-rotation-0123456789', accessToken }));
  };

  expect(await verifyLogin()).toBe('accepted');
  expect(emulator.count('jwks')).toBe(1);
  // Ten minutes on, the next login refetches on schedule: still the old key.
  advance(600_000);
  expect(await verifyLogin()).toBe('accepted');
  expect(emulator.count('jwks')).toBe(2);

  // Kakao withdraws the old key and signs with a new one, a second after that scheduled fetch.
  await emulator.rotateSigningKey({ keepOld: false });
  advance(1_000);
  expect(await verifyLogin()).toBe('accepted');
  expect(emulator.count('jwks')).toBe(3);

  // A flood of tokens with random kids within the next 30 s causes no fetch at all.
  emulator.setIdTokenFault('unknown_kid');
  for (let i = 0; i < 10; i++) expect(await verifyLogin()).toBe('kid');
  expect(emulator.count('jwks')).toBe(3);
  advance(30_000);
  expect(await verifyLogin()).toBe('kid');
  expect(emulator.count('jwks')).toBe(4);
});
