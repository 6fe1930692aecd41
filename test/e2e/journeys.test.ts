import type http from 'node:http';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import {
  collectPageErrors,
  launchBrowser,
  newContext,
  screenshot,
  startDemoApp,
  startOtherSite,
  type DemoApp,
} from './browser';

const MINJI = '4120937465';

const LOGIN = '카카오 로그인 · Login with Kakao';
const CALL_API = '카카오 API 호출 · Call Kakao API';
const LOGOUT = '로그아웃 · Logout';
const LOGOUT_KAKAO = '카카오 계정까지 로그아웃 · Logout from Kakao too';
const UNLINK = '연결 끊기 · Unlink';
const ACCEPT = '동의하고 계속하기';
const CANCEL = '취소';

/** A real browser, a real example app, a real emulator on another site: each test gets fresh ones. */
const JOURNEY_TIMEOUT = 45_000;

let browser: Browser;
let app: DemoApp | undefined;
let context: BrowserContext | undefined;
let page: Page;

beforeAll(async () => {
  browser = await launchBrowser();
}, 30_000);

afterAll(async () => {
  await browser?.close();
});

async function open(env: Record<string, string> = {}): Promise<DemoApp> {
  app = await startDemoApp(env);
  context = await newContext(browser);
  page = await context.newPage();
  return app;
}

afterEach(async () => {
  await context?.close();
  await app?.close();
  context = undefined;
  app = undefined;
});

const isHome = (a: DemoApp) => (url: URL) => url.origin === a.url && url.pathname === '/';

const isConsentPage = (a: DemoApp) => (url: URL) =>
  url.origin === a.emulator.url && url.pathname === '/oauth/authorize';

async function expectAnonymous(p: Page): Promise<void> {
  await p.getByRole('link', { name: LOGIN }).waitFor();
  expect(await p.locator('[data-nickname]').count()).toBe(0);
}

/** The home page shows the nickname and a profile picture that really loaded (CSP allows the emulator). */
async function expectLoggedIn(p: Page, a: DemoApp, nickname: string): Promise<void> {
  await p.waitForURL(isHome(a));
  expect(new URL(p.url()).search).toBe('');
  expect((await p.locator('[data-nickname]').textContent())?.trim()).toBe(nickname);
  const picture = p.locator('.profile img');
  const src = (await picture.getAttribute('src')) ?? '';
  expect(src.startsWith(`${a.emulator.url}/_emulator/avatar/`) ? 'emulator avatar' : src).toBe(
    'emulator avatar',
  );
  await p.waitForLoadState('load');
  const loaded = await picture.evaluate(
    (img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0,
  );
  expect(loaded).toBe(true);
}

/** Home → "Login with Kakao" → the emulator's consent page (on 127.0.0.1, another site). */
async function startLogin(p: Page, a: DemoApp): Promise<void> {
  await p.goto(`${a.url}/`);
  await p.getByRole('link', { name: LOGIN }).click();
  await p.waitForURL(isConsentPage(a));
  await p.getByRole('button', { name: ACCEPT }).waitFor();
}

/** A full first login: consent page, choose the account, accept, back on the home page logged in. */
async function loginThroughConsent(p: Page, a: DemoApp, userId = MINJI, nickname = 'Minji'): Promise<void> {
  await startLogin(p, a);
  await p.locator(`#user-${userId}`).check();
  await p.getByRole('button', { name: ACCEPT }).click();
  await expectLoggedIn(p, a, nickname);
}

/**
 * Runs `action` and resolves with the URL of the next document the tab shows (redirects followed), so
 * a navigation that never happens (a CSP block, a dead button) fails instead of matching the old page.
 */
async function nextDocument(p: Page, action: () => Promise<void>): Promise<string> {
  const committed = p.waitForEvent('framenavigated', { predicate: (frame) => frame === p.mainFrame() });
  await action();
  const frame = await committed;
  await p.waitForLoadState('load');
  return frame.url();
}

/** Submits one of the home page's forms and expects to land on the plain home page. */
async function submitAndReturnHome(p: Page, a: DemoApp, name: string): Promise<void> {
  const url = await nextDocument(p, () => p.getByRole('button', { name, exact: true }).click());
  expect(url).toBe(`${a.url}/`);
}

describe('logging in with Kakao in Chromium (example app on localhost, emulator on 127.0.0.1)', () => {
  test(
    'login goes through the consent page and the home page shows the nickname and picture',
    async () => {
      const a = await open();
      const errors = collectPageErrors(context!);
      expect(new URL(a.url).hostname).toBe('localhost');
      expect(new URL(a.emulator.url).hostname).toBe('127.0.0.1');

      await page.goto(`${a.url}/`);
      await expectAnonymous(page);
      await screenshot(page, '01-home');

      await page.getByRole('link', { name: LOGIN }).click();
      await page.waitForURL(isConsentPage(a));
      await page.getByRole('button', { name: ACCEPT }).waitFor();
      await screenshot(page, '02-consent');

      await page.locator(`#user-${MINJI}`).check();
      await page.getByRole('button', { name: ACCEPT }).click();
      await expectLoggedIn(page, a, 'Minji');
      await screenshot(page, '03-logged-in');

      const cookies = await context!.cookies(a.url);
      const sid = cookies.find((cookie) => cookie.name === 'kle.sid');
      expect(sid).toMatchObject({ httpOnly: true, sameSite: 'Lax', domain: 'localhost', path: '/' });

      // Tokens stay on the server: none of what the emulator issued reaches the page or a cookie.
      const html = await page.content();
      const secrets = a.emulator.issuedSecrets();
      expect(secrets.length).toBeGreaterThan(0);
      for (const secret of secrets) {
        expect(html).not.toContain(secret);
        for (const cookie of await context!.cookies()) expect(cookie.value).not.toContain(secret);
      }
      expect(errors.filter((e) => !e.includes('favicon'))).toEqual([]);
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'Cancel on the consent page comes back to a friendly message and the visitor stays anonymous',
    async () => {
      const a = await open();
      await startLogin(page, a);
      await page.getByRole('button', { name: CANCEL }).click();
      await page.waitForURL(isHome(a));
      expect(new URL(page.url()).searchParams.get('login_error')).toBe('access_denied');

      const alert = page.locator('.alert[data-login-error="access_denied"]');
      const text = await alert.innerText();
      expect(text).toContain('카카오 로그인을 취소했습니다.');
      expect(text).toContain('You cancelled the Kakao login.');
      await expectAnonymous(page);
      await screenshot(page, '04-login-cancelled');
      expect(a.emulator.count('token')).toBe(0);
    },
    JOURNEY_TIMEOUT,
  );

  test(
    '"Call Kakao API" still works after Kakao expired the access token, by refreshing it once',
    async () => {
      const a = await open();
      await loginThroughConsent(page, a);
      a.emulator.expireAccessTokens(MINJI);
      a.emulator.resetRequests();

      const [response] = await Promise.all([
        page.waitForResponse((r: Response) => new URL(r.url()).pathname === '/me/kakao'),
        page.getByRole('link', { name: CALL_API }).click(),
      ]);
      expect(response.status()).toBe(200);
      expect(await response.text()).toMatch(new RegExp(`"id":\\s*"?${MINJI}\\b`));

      const refreshes = a.emulator.requests.filter(
        (r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token',
      );
      expect(refreshes).toHaveLength(1);
      // The first call was refused with the expired token, the retry used the fresh one.
      expect(a.emulator.count('user_me')).toBe(2);

      await page.goto(`${a.url}/`);
      await expectLoggedIn(page, a, 'Minji');
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'Logout ends the app session only: the next login goes straight through on the Kakao session',
    async () => {
      const a = await open();
      await loginThroughConsent(page, a);
      await submitAndReturnHome(page, a, LOGOUT);
      await expectAnonymous(page);
      // The app also logged its tokens out at Kakao.
      expect(a.emulator.count('logout')).toBe(1);

      const decisions = a.emulator.count('authorize_decision');
      const url = await nextDocument(page, () => page.getByRole('link', { name: LOGIN }).click());
      expect(url).toBe(`${a.url}/`);
      await expectLoggedIn(page, a, 'Minji');
      expect(a.emulator.count('authorize_decision')).toBe(decisions);
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'Logout from the Kakao account too ends the Kakao session: the next login shows the consent page',
    async () => {
      const a = await open();
      await loginThroughConsent(page, a);
      await submitAndReturnHome(page, a, LOGOUT_KAKAO);
      await expectAnonymous(page);
      expect(new URL(page.url()).search).toBe('');
      expect(a.emulator.count('account_logout')).toBe(1);
      expect(a.emulator.count('logout')).toBe(1);

      await page.reload();
      await expectAnonymous(page);
      await startLogin(page, a);
      await page.getByRole('button', { name: ACCEPT }).click();
      await expectLoggedIn(page, a, 'Minji');
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'Unlink leaves the visitor anonymous and the next login asks for consent again',
    async () => {
      const a = await open();
      await loginThroughConsent(page, a);
      expect(a.emulator.getUser(MINJI)?.linked).toBe(true);

      await submitAndReturnHome(page, a, UNLINK);
      await expectAnonymous(page);
      expect(a.emulator.count('unlink')).toBe(1);
      expect(a.emulator.getUser(MINJI)).toMatchObject({ linked: false, agreedScopes: [] });

      // The Kakao session cookie is still there, but consent is gone: Kakao asks again.
      await startLogin(page, a);
      await page.locator(`#user-${MINJI}`).check();
      await page.getByRole('button', { name: ACCEPT }).click();
      await expectLoggedIn(page, a, 'Minji');
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'an unlink from Kakao’s side (webhook) ends the browser session at its next request',
    async () => {
      const a = await open();
      await loginThroughConsent(page, a);
      expect(await a.emulator.unlinkFromKakao(MINJI)).toBe(200);
      await page.reload();
      await expectAnonymous(page);
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'two tabs that start a login at the same time can both finish it',
    async () => {
      const a = await open();
      const second = await context!.newPage();
      await Promise.all([startLogin(page, a), startLogin(second, a)]);

      await page.locator(`#user-${MINJI}`).check();
      await page.getByRole('button', { name: ACCEPT }).click();
      await expectLoggedIn(page, a, 'Minji');

      // The same person in the second tab: its transaction is still there, and its login renews the session.
      await second.locator(`#user-${MINJI}`).check();
      await second.getByRole('button', { name: ACCEPT }).click();
      await expectLoggedIn(second, a, 'Minji');
      await page.reload();
      await expectLoggedIn(page, a, 'Minji');
      // (A login started before the browser's current one may not switch it to someone else: that is
      // test/integration/login-transactions.test.ts's planted-transaction case.)
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'the same journey works in OpenID Connect mode',
    async () => {
      const a = await open({ KAKAO_OIDC: 'true' });
      await loginThroughConsent(page, a);
      const authorize = a.emulator.requests.find((r) => r.endpoint === 'authorize');
      // KAKAO_SCOPES unset: no scope parameter (Kakao issues the ID token because OIDC is on), but a nonce.
      expect(authorize?.query.scope).toBeUndefined();
      expect(authorize?.query.nonce).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]{16,}$/));
      expect(a.events.filter((e) => e.event === 'login_failed')).toEqual([]);

      await submitAndReturnHome(page, a, LOGOUT);
      await expectAnonymous(page);
    },
    JOURNEY_TIMEOUT,
  );

  test(
    'a form on another site posting to /logout and /unlink leaves the user logged in and linked',
    async () => {
      const a = await open();
      await loginThroughConsent(page, a);

      // What the app's socket really received: SameSite=Lax keeps the session cookie off these posts.
      const seen: { path: string; cookie: string; fetchSite: string; origin: string }[] = [];
      const record = (req: http.IncomingMessage) => {
        if (req.method !== 'POST') return;
        seen.push({
          path: req.url ?? '',
          cookie: req.headers.cookie ?? '',
          fetchSite: String(req.headers['sec-fetch-site']),
          origin: String(req.headers.origin),
        });
      };
      a.running.server.on('request', record);
      const other = await startOtherSite(
        `<!doctype html><title>Another site</title>
<form id="logout" method="post" action="${a.url}/logout"><button>Win a prize</button></form>
<form id="unlink" method="post" action="${a.url}/unlink"><button>Win another prize</button></form>`,
      );
      try {
        for (const form of ['logout', 'unlink']) {
          await page.goto(`${other.url}/`);
          const [response] = await Promise.all([
            page.waitForResponse((r: Response) => r.url() === `${a.url}/${form}`),
            page.locator(`#${form} button`).click(),
          ]);
          expect(response.status()).toBe(403);
        }
      } finally {
        a.running.server.off('request', record);
        await other.close();
      }

      expect(seen.map((s) => s.path)).toEqual(['/logout', '/unlink']);
      for (const request of seen) {
        expect(request.cookie).not.toContain('kle.sid');
        expect(request.fetchSite).toBe('cross-site');
        expect(request.origin).toBe(other.url);
      }
      expect(a.emulator.count('logout')).toBe(0);
      expect(a.emulator.count('unlink')).toBe(0);
      expect(a.emulator.getUser(MINJI)?.linked).toBe(true);

      await page.goto(`${a.url}/`);
      await expectLoggedIn(page, a, 'Minji');
    },
    JOURNEY_TIMEOUT,
  );
});
