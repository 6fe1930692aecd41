/**
 * Consumer (d) in a real browser: headless Chromium through playwright-core logs in and out of an app
 * that runs `helmet()` with its defaults (so `Referrer-Policy: no-referrer`, and Chromium sends
 * `Origin: null` on the page's own logout form).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { KAKAO_USER_ID, type ConsumerEndpoints, type Scenario } from './scenarios';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

const INSTALL_COMMAND = 'apt-get update && apt-get install -y --no-install-recommends chromium';

function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  try {
    candidates.push(chromium.executablePath());
  } catch {
    // playwright-core knows no bundled browser for this platform; the explicit paths still apply.
  }
  return candidates.find(
    (candidate): candidate is string => Boolean(candidate) && existsSync(candidate as string),
  );
}

/**
 * The Chromium binary. When there is none, installs Debian's `chromium` if this process is root
 * with apt-get; otherwise stops with the one command that installs it. Never skips.
 *
 * @throws Error with the install command when no browser can be found or installed.
 */
export function ensureChromium(): string {
  const found = findChromium();
  if (found) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && existsSync('/usr/bin/apt-get')) {
    process.stderr.write(`consumers: no Chromium found, running: ${INSTALL_COMMAND}\n`);
    execFileSync('sh', ['-c', INSTALL_COMMAND], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const installed = findChromium();
    if (installed) return installed;
  }
  throw new Error(
    `No Chromium for the browser consumer (looked at CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser). ` +
      `Install it with: ${INSTALL_COMMAND}  (as root), or set CHROMIUM_PATH to a Chromium or Chrome binary.`,
  );
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Steps for an app whose `/` shows `a#login` when anonymous, `[data-user-id]` and `form#logout` when logged in. */
export function browserSteps(app: ConsumerEndpoints): Scenario {
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const home = (url: URL) => url.origin === app.url && url.pathname === '/';
  return {
    steps: [
      {
        name: 'browser',
        async run() {
          browser = await chromium.launch({
            executablePath: ensureChromium(),
            args: CHROMIUM_ARGS,
            timeout: 20_000,
          });
          const context = await browser.newContext();
          context.setDefaultTimeout(10_000);
          page = await context.newPage();
          page.on('console', (m) => {
            // CSP violations and script errors; not the 404 favicon or this test's own 401 probe.
            if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
              pageErrors.push(`${m.location().url}: ${m.text()}`);
          });
          page.on('pageerror', (e) => pageErrors.push(e.message));
        },
      },
      {
        name: 'helmet defaults',
        async run() {
          const response = await page.goto(`${app.url}/`);
          const headers = response?.headers() ?? {};
          check(
            headers['referrer-policy'] === 'no-referrer',
            `Referrer-Policy is ${headers['referrer-policy']}, not helmet's default no-referrer`,
          );
          check(
            /form-action 'self'/.test(headers['content-security-policy'] ?? ''),
            `no helmet CSP: ${headers['content-security-policy']}`,
          );
          await page.locator('a#login').waitFor();
        },
      },
      {
        name: 'login',
        async run() {
          await page.locator('a#login').click();
          await page.waitForURL(home);
          const id = (await page.locator('[data-user-id]').textContent())?.trim();
          check(
            id === KAKAO_USER_ID,
            `after login the page shows user ${id}, not ${KAKAO_USER_ID} (${page.url()})`,
          );
        },
      },
      {
        name: 'withAccessToken',
        async run() {
          const body = await page.evaluate(async () => {
            const response = await fetch('/me/kakao', { headers: { Accept: 'application/json' } });
            return `${response.status} ${await response.text()}`;
          });
          check(
            new RegExp(`^200 .*"id":"?${KAKAO_USER_ID}"?[,}]`).test(body),
            `GET /me/kakao from the page: ${body}`,
          );
        },
      },
      {
        name: 'logout',
        async run() {
          const logoutPost = page.waitForRequest(
            (r: Request) => r.method() === 'POST' && new URL(r.url()).pathname === '/logout',
          );
          await page.locator('form#logout button').click();
          const request = await logoutPost;
          const headers = await request.allHeaders();
          // What this consumer is about: helmet's no-referrer makes Chromium send Origin: null.
          check(
            headers.origin === 'null',
            `Chromium sent Origin ${headers.origin} (expected "null" under no-referrer)`,
          );
          check(headers['sec-fetch-site'] === 'same-origin', `Sec-Fetch-Site ${headers['sec-fetch-site']}`);
          const response = await request.response();
          const status = response?.status();
          if (status !== 302) {
            const body = (await response?.text().catch(() => ''))?.slice(0, 200);
            throw new Error(
              `POST /logout with Origin: null and Sec-Fetch-Site: same-origin answered ${status}: ${body}`,
            );
          }
          await page.waitForURL(home);
          await page.locator('a#login').waitFor();
          const me = await page.evaluate(async () => (await fetch('/me')).status);
          check(me === 401, `GET /me after logout answered ${me}`);
        },
      },
      {
        name: 'no page errors',
        async run() {
          check(pageErrors.length === 0, `console errors:\n${pageErrors.join('\n')}`);
        },
      },
    ],
    close: async () => {
      await browser?.close();
    },
  };
}
