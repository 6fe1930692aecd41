/**
 * What every consumer app is put through, over its real socket, as named steps. A run stops at the
 * first failing step; the result says which one and why, so a pending check can name the exact step
 * it is waiting for.
 */
import { Client, describeHops, type Reply } from './http-client';

/** Where a started consumer listens, from its `KLE_CONSUMER_READY {json}` line. */
export interface ConsumerEndpoints {
  /** The app, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The Kakao emulator the app talks to (its control API is used for expiry and counts). */
  emulator: string;
  /** The emulator's per-start control token (its control API refuses calls without it). */
  emulatorToken: string;
}

/** The Kakao user the consumers' emulators approve (19 digits: ids must stay exact end to end). */
export const KAKAO_USER_ID = '1376016924429759228';

/** The local (passport-local) user of the coexistence consumer. */
export const LOCAL_USER = { username: 'alice', password: 'wonderland', id: 'local:alice' };

export interface Step {
  name: string;
  run(): Promise<void>;
}

/** A scenario's steps, and what to release after them (a browser) whatever happened. */
export interface Scenario {
  steps: Step[];
  close?(): Promise<void>;
}

export interface ScenarioResult {
  passed: string[];
  failedAt?: string;
  error?: Error;
}

export async function runSteps(steps: readonly Step[]): Promise<ScenarioResult> {
  const passed: string[] = [];
  for (const step of steps) {
    try {
      await step.run();
      passed.push(step.name);
    } catch (error) {
      return {
        passed,
        failedAt: step.name,
        error: error instanceof Error ? error : new Error(String(error)),
      };
    }
  }
  return { passed };
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function summary(reply: Reply): string {
  const where = reply.location ? ` → ${reply.location.pathname}${reply.location.search}` : '';
  return `${reply.status}${where} ${reply.text.slice(0, 300)}`.trim();
}

interface EmulatorRequest {
  endpoint: string;
  form: Record<string, string | string[]>;
}

async function refreshCalls(app: ConsumerEndpoints): Promise<number> {
  const response = await fetch(`${app.emulator}/_emulator/requests`, {
    headers: { 'X-Emulator-Token': app.emulatorToken },
  });
  const requests = (await response.json()) as EmulatorRequest[];
  return requests.filter((r) => r.endpoint === 'token' && r.form.grant_type === 'refresh_token').length;
}

async function expireAccessTokens(app: ConsumerEndpoints, userId: string): Promise<void> {
  const response = await fetch(`${app.emulator}/_emulator/expire-access-tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Emulator-Token': app.emulatorToken },
    body: JSON.stringify({ userId }),
  });
  check(response.status === 204, `the emulator's expire-access-tokens answered ${response.status}`);
}

/** The body's `"id"` is exactly `id` (as a JSON string or number: no float rounding on the way). */
function hasExactId(text: string, id: string): boolean {
  return new RegExp(`"id"\\s*:\\s*"?${id}"?[,}]`).test(text);
}

/** Login with Kakao from wherever the client is: start, (auto-approved) consent, callback, home. */
export async function kakaoLogin(client: Client, app: ConsumerEndpoints): Promise<void> {
  const hops = await client.follow(`${app.url}/auth/kakao`);
  const trail = describeHops(hops);
  const last = hops[hops.length - 1];
  check(
    hops.some(
      (hop) => hop.url.origin === new URL(app.emulator).origin && hop.url.pathname === '/oauth/authorize',
    ),
    `the login did not go to the emulator's authorize endpoint: ${trail}`,
  );
  check(
    hops.some((hop) => hop.url.pathname === '/auth/kakao/callback' && hop.status === 302),
    `the callback did not redirect: ${trail}; last: ${last ? summary(last) : 'none'}`,
  );
  check(
    last !== undefined && last.url.origin === app.url && last.status === 200 && last.url.search === '',
    `the login did not end on the app without an error: ${trail}; last: ${last ? summary(last) : 'none'}`,
  );
}

async function expectUser(client: Client, app: ConsumerEndpoints, id: string): Promise<void> {
  const me = await client.request(`${app.url}/me`);
  check(me.status === 200 && hasExactId(me.text, id), `GET /me should be user ${id}, got ${summary(me)}`);
}

async function expectAnonymous(client: Client, app: ConsumerEndpoints, what = 'GET /me'): Promise<void> {
  const me = await client.request(`${app.url}/me`);
  check(me.status === 401, `${what} should answer 401 (logged out), got ${summary(me)}`);
}

async function expectKakaoCall(client: Client, app: ConsumerEndpoints): Promise<void> {
  const me = await client.request(`${app.url}/me/kakao`);
  check(
    me.status === 200 && hasExactId(me.text, KAKAO_USER_ID),
    `GET /me/kakao (withAccessToken → Kakao /v2/user/me) should return user ${KAKAO_USER_ID}, got ${summary(me)}`,
  );
}

async function postLogout(client: Client, app: ConsumerEndpoints, path = '/logout'): Promise<void> {
  const reply = await client.request(`${app.url}${path}`, {
    method: 'POST',
    form: {},
    navigate: true,
    headers: { Origin: app.url, 'Sec-Fetch-Site': 'same-origin' },
  });
  check(reply.status === 302 || reply.status === 303, `POST ${path} should redirect, got ${summary(reply)}`);
}

/**
 * Login, a call to Kakao through `withAccessToken`, a refresh after Kakao expired the access token,
 * and logout (the old cookie no longer works).
 */
export function standardSteps(app: ConsumerEndpoints): Scenario {
  const client = new Client();
  const steps: Step[] = [
    { name: 'anonymous', run: () => expectAnonymous(client, app) },
    { name: 'login', run: () => kakaoLogin(client, app) },
    { name: 'session user', run: () => expectUser(client, app, KAKAO_USER_ID) },
    { name: 'withAccessToken', run: () => expectKakaoCall(client, app) },
    {
      name: 'refresh after expiry',
      async run() {
        const before = await refreshCalls(app);
        await expireAccessTokens(app, KAKAO_USER_ID);
        await expectKakaoCall(client, app);
        const after = await refreshCalls(app);
        check(after === before + 1, `expected exactly one refresh call to Kakao, got ${after - before}`);
        await expectKakaoCall(client, app);
        check((await refreshCalls(app)) === after, 'the refreshed access token was not kept');
      },
    },
    {
      name: 'logout',
      async run() {
        const before = client.jar.clone();
        await postLogout(client, app);
        await expectAnonymous(client, app, 'GET /me after logout');
        await expectAnonymous(new Client(before), app, 'GET /me with the cookie from before logout');
      },
    },
  ];
  return { steps };
}

async function localLogin(client: Client, app: ConsumerEndpoints): Promise<void> {
  const reply = await client.request(`${app.url}/login/local`, {
    form: { username: LOCAL_USER.username, password: LOCAL_USER.password },
    navigate: true,
    headers: { Origin: app.url, 'Sec-Fetch-Site': 'same-origin' },
  });
  check(
    reply.status === 302 && reply.location?.pathname === '/' && reply.location.search === '',
    `POST /login/local should redirect to /, got ${summary(reply)}`,
  );
}

/**
 * A second Passport strategy (passport-local) on the app's global passport next to kakaoAuth: a
 * local session is left alone by kakaoAuth, and each kind of login replaces the other.
 */
export function localCoexistSteps(app: ConsumerEndpoints): Scenario {
  const client = new Client();
  const steps: Step[] = [
    { name: 'local login', run: () => localLogin(client, app) },
    { name: 'local session user', run: () => expectUser(client, app, LOCAL_USER.id) },
    {
      name: 'local user stays logged in',
      async run() {
        for (let i = 0; i < 3; i++) await expectUser(client, app, LOCAL_USER.id);
      },
    },
    {
      name: 'kakao login replaces local',
      async run() {
        await kakaoLogin(client, app);
        await expectUser(client, app, KAKAO_USER_ID);
        await expectKakaoCall(client, app);
      },
    },
    {
      name: 'local login replaces kakao',
      async run() {
        await localLogin(client, app);
        await expectUser(client, app, LOCAL_USER.id);
        await expectUser(client, app, LOCAL_USER.id);
        const kakao = await client.request(`${app.url}/me/kakao`);
        check(
          kakao.status === 401,
          `GET /me/kakao for the local user should answer 401, got ${summary(kakao)}`,
        );
      },
    },
    {
      name: 'local logout',
      async run() {
        await postLogout(client, app, '/logout/local');
        await expectAnonymous(client, app, 'GET /me after the local logout');
      },
    },
    {
      name: 'kakao login and logout',
      async run() {
        await kakaoLogin(client, app);
        await expectUser(client, app, KAKAO_USER_ID);
        await postLogout(client, app);
        await expectAnonymous(client, app, 'GET /me after logout');
      },
    },
  ];
  return { steps };
}
