import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import express from 'express';
import supertest from 'supertest';

import type { KakaoLogEvent } from '../../lib/logger';
import { createKakaoEmulator, type KakaoEmulator } from '../../lib/testing';
import {
  createUnlinkWebhookHandler,
  type UnlinkEvent,
  type UnlinkWebhookOptions,
} from '../../lib/unlink-webhook';

const ADMIN_KEY = 'hook-Key.0042';
const APP_ID = '1029384';
const MINJI = '4120937465';
const JIHO = '1376016924429759228';
const PATH = '/webhooks/kakao/unlink';
const FORM = 'application/x-www-form-urlencoded';

interface TestApp {
  url: string;
  events: UnlinkEvent[];
  logs: KakaoLogEvent[];
  close(): Promise<void>;
}

const open: TestApp[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((app) => app.close()));
});

/**
 * An Express app on 127.0.0.1:0 with the handler at PATH. By default `onUnlink` records the event and
 * deletes the user from a small "database", which does nothing for unknown users.
 */
async function startApp(
  options: Partial<UnlinkWebhookOptions> = {},
  setup: (app: express.Express) => void = () => undefined,
): Promise<TestApp> {
  const events: UnlinkEvent[] = [];
  const logs: KakaoLogEvent[] = [];
  const database = new Set([MINJI, JIHO]);
  const app = express();
  setup(app);
  app.all(
    PATH,
    createUnlinkWebhookHandler({
      adminKey: ADMIN_KEY,
      appId: APP_ID,
      logger: (event) => logs.push(event),
      onUnlink: async (event) => {
        events.push(event);
        database.delete(event.userId);
      },
      ...options,
    }),
  );
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const testApp: TestApp = {
    url: `http://127.0.0.1:${port}`,
    events,
    logs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(testApp);
  return testApp;
}

const goodAuth = `KakaoAK ${ADMIN_KEY}`;

function form(fields: Record<string, string> = {}): string {
  return new URLSearchParams({
    app_id: APP_ID,
    user_id: MINJI,
    referrer_type: 'UNLINK_FROM_APPS',
    ...fields,
  }).toString();
}

function post(app: TestApp, body: string, authorization: string | null = goodAuth): supertest.Test {
  const test = supertest(app.url).post(PATH).type('form').send(body);
  return authorization === null ? test : test.set('Authorization', authorization);
}

function get(app: TestApp, query: string, authorization: string | null = goodAuth): supertest.Test {
  const test = supertest(app.url).get(`${PATH}?${query}`);
  return authorization === null ? test : test.set('Authorization', authorization);
}

/** A raw request, for bodies supertest cannot send (chunked, incomplete). */
function rawPost(
  app: TestApp,
  headers: Record<string, string | number>,
  write: (req: ReturnType<typeof httpRequest>) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${app.url}${PATH}`, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    write(req);
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('unlink webhook: accepted calls', () => {
  it('accepts a POST form, calls onUnlink with the event and answers 200 no-store', async () => {
    const app = await startApp();
    const response = await post(app, form());
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(app.events).toEqual([{ userId: MINJI, appId: APP_ID, referrerType: 'UNLINK_FROM_APPS' }]);
    expect(app.logs).toContainEqual(
      expect.objectContaining({ level: 'info', event: 'unlink_webhook', reason: 'unlinked', userId: MINJI }),
    );
  });

  it('accepts a GET query string', async () => {
    const app = await startApp();
    const response = await get(app, form({ referrer_type: 'ACCOUNT_DELETE' }));
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(app.events).toEqual([{ userId: MINJI, appId: APP_ID, referrerType: 'ACCOUNT_DELETE' }]);
  });

  it('passes a 19-digit user id as the exact string', async () => {
    const app = await startApp();
    await post(app, form({ user_id: JIHO })).expect(200);
    expect(app.events[0]?.userId).toBe(JIHO);
  });

  it('answers 200 for a user the app does not know, and again for a repeated notification', async () => {
    const app = await startApp();
    await post(app, form({ user_id: '5555555555' })).expect(200);
    await post(app, form()).expect(200);
    await post(app, form()).expect(200);
    expect(app.events.map((e) => e.userId)).toEqual(['5555555555', MINJI, MINJI]);
  });

  it('accepts the KakaoAK scheme in any case, a charset parameter and a numeric appId option', async () => {
    const app = await startApp({ appId: Number(APP_ID) });
    await supertest(app.url)
      .post(PATH)
      .set('Content-Type', `${FORM}; charset=UTF-8`)
      .set('Authorization', `kakaoak ${ADMIN_KEY}`)
      .send(form())
      .expect(200);
    expect(app.events).toHaveLength(1);
  });

  it('passes a missing or malformed referrer_type as undefined rather than refusing the deletion', async () => {
    const app = await startApp();
    await post(app, `app_id=${APP_ID}&user_id=${MINJI}`).expect(200);
    await post(app, form({ referrer_type: 'not a type<script>' })).expect(200);
    expect(app.events.map((e) => e.referrerType)).toEqual([undefined, undefined]);
  });

  it('ignores unknown extra fields', async () => {
    const app = await startApp();
    await post(app, `${form()}&new_field=1`).expect(200);
    expect(app.events).toHaveLength(1);
  });

  it('still works behind express.urlencoded, and still refuses repeated fields there', async () => {
    const app = await startApp({}, (a) => {
      a.use(express.urlencoded({ extended: false }));
    });
    await post(app, form()).expect(200);
    await post(app, `${form()}&user_id=${JIHO}`).expect(400);
    await post(app, `${form()}&referrer_type=ACCOUNT_DELETE`).expect(400);
    expect(app.events.map((e) => e.userId)).toEqual([MINJI]);
  });
});

describe('unlink webhook: authentication', () => {
  it.each([
    ['a wrong admin key', `KakaoAK ${ADMIN_KEY}x`],
    ['a missing header', null],
    ['the Bearer scheme with the right key', `Bearer ${ADMIN_KEY}`],
    ['the key alone without a scheme', ADMIN_KEY],
    ['an empty KakaoAK credential', 'KakaoAK '],
  ])('refuses %s with a bare 401 and calls nothing', async (_name, authorization) => {
    const app = await startApp();
    for (const response of [await post(app, form(), authorization), await get(app, form(), authorization)]) {
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('KakaoAK');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.text).toBe('Unauthorized');
    }
    expect(app.events).toEqual([]);
    expect(app.logs.every((e) => e.level === 'warn' && e.userId === undefined)).toBe(true);
  });

  it('refuses a wrong or missing app_id with 401', async () => {
    const app = await startApp();
    await post(app, form({ app_id: '1029385' })).expect(401);
    await post(app, `user_id=${MINJI}`).expect(401);
    await get(app, form({ app_id: `${APP_ID}0` })).expect(401);
    expect(app.events).toEqual([]);
    expect(app.logs.map((e) => e.reason)).toEqual(['app_id_mismatch', 'missing_app_id', 'app_id_mismatch']);
  });

  it('checks the key before reading the body', async () => {
    const app = await startApp();
    // Malformed and wrongly authenticated: the authentication failure wins, with no detail.
    await post(app, 'user_id=abc&user_id=def', 'KakaoAK nope').expect(401);
  });

  it('never writes the admin key into a log event', async () => {
    const app = await startApp();
    await post(app, form(), `KakaoAK ${ADMIN_KEY}-wrong`);
    await post(app, form());
    await post(app, form({ app_id: '1' }));
    expect(app.logs.length).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(app.logs)).not.toContain(ADMIN_KEY);
  });
});

describe('unlink webhook: malformed calls', () => {
  it.each([
    ['a repeated user_id', `${form()}&user_id=${JIHO}`],
    ['a repeated app_id', `${form()}&app_id=${APP_ID}`],
    ['a bracketed user_id', `app_id=${APP_ID}&user_id[]=${MINJI}`],
    ['a user_id with a leading zero', form({ user_id: `0${MINJI}` })],
    ['a non-numeric user_id', form({ user_id: '41209x7465' })],
    ['a 21-digit user_id', form({ user_id: '123456789012345678901' })],
    ['a user_id with a space', form({ user_id: ` ${MINJI}` })],
    ['no user_id', `app_id=${APP_ID}`],
  ])('answers 400 to %s, by POST and by GET', async (_name, body) => {
    const app = await startApp();
    await post(app, body).expect(400);
    await get(app, body).expect(400);
    expect(app.events).toEqual([]);
  });

  it('answers 413 to a body over 4 KiB without calling onUnlink', async () => {
    const app = await startApp();
    const response = await post(app, `${form()}&pad=${'a'.repeat(5000)}`);
    expect(response.status).toBe(413);
    expect(app.events).toEqual([]);
    expect(app.logs).toContainEqual(expect.objectContaining({ reason: 'body_too_large' }));
  });

  it('answers 413 to a chunked body that grows over 4 KiB', async () => {
    const app = await startApp();
    const status = await rawPost(
      app,
      { 'Content-Type': FORM, Authorization: goodAuth, 'Transfer-Encoding': 'chunked' },
      (req) => {
        req.write(`${form()}&pad=`);
        for (let i = 0; i < 5; i++) req.write('b'.repeat(1000));
        req.end();
      },
    );
    expect(status).toBe(413);
    expect(app.events).toEqual([]);
  });

  it('answers 408 when the body does not arrive within the time budget', async () => {
    const app = await startApp({ timeoutMs: 200 });
    const started = Date.now();
    const status = await rawPost(
      app,
      { 'Content-Type': FORM, Authorization: goodAuth, 'Content-Length': 200 },
      (req) => req.write(form().slice(0, 10)),
    );
    expect(status).toBe(408);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(app.events).toEqual([]);
  });

  it('answers 415 to a body that is not a form', async () => {
    const app = await startApp();
    await supertest(app.url)
      .post(PATH)
      .set('Authorization', goodAuth)
      .send({ app_id: APP_ID, user_id: MINJI })
      .expect(415);
    await supertest(app.url)
      .post(PATH)
      .set('Authorization', goodAuth)
      .set('Content-Type', FORM)
      .set('Content-Encoding', 'gzip')
      .send(form())
      .expect(415);
    expect(app.events).toEqual([]);
  });

  it('reads only the form body of a POST, not its query string', async () => {
    const app = await startApp();
    await supertest(app.url)
      .post(`${PATH}?${form()}`)
      .set('Authorization', goodAuth)
      .type('form')
      .send('')
      .expect(401);
    expect(app.events).toEqual([]);
  });

  it.each(['PUT', 'DELETE', 'PATCH'])('answers 405 with Allow to %s', async (method) => {
    const app = await startApp();
    const agent = supertest(app.url);
    const call =
      method === 'PUT' ? agent.put(PATH) : method === 'DELETE' ? agent.delete(PATH) : agent.patch(PATH);
    const response = await call.set('Authorization', goodAuth).type('form').send(form());
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('GET, POST');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(app.events).toEqual([]);
  });
});

describe('unlink webhook: a slow or failing onUnlink', () => {
  it('answers 200 within timeoutMs while onUnlink keeps running, then logs how it ended', async () => {
    const gate = deferred();
    let finished = false;
    const app = await startApp({
      timeoutMs: 300,
      onUnlink: async () => {
        await gate.promise;
        finished = true;
      },
    });
    const started = Date.now();
    await post(app, form()).expect(200);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(300 + 500);
    expect(finished).toBe(false);
    expect(app.logs).toContainEqual(
      expect.objectContaining({ level: 'warn', reason: 'handler_slow', userId: MINJI }),
    );

    gate.resolve();
    await waitFor(() => app.logs.some((e) => e.reason === 'handler_finished_late'));
    expect(finished).toBe(true);
  });

  it('logs a late failure with its error code only', async () => {
    const gate = deferred();
    const app = await startApp({ timeoutMs: 100, onUnlink: () => gate.promise });
    await post(app, form()).expect(200);
    gate.reject(Object.assign(new Error(`redis said ${ADMIN_KEY}`), { code: 'ERR_KAKAO_TOKEN_STORE' }));
    await waitFor(() => app.logs.some((e) => e.level === 'error'));
    expect(app.logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        reason: 'handler_failed_late:ERR_KAKAO_TOKEN_STORE',
        userId: MINJI,
      }),
    );
    expect(JSON.stringify(app.logs)).not.toContain(ADMIN_KEY);
  });

  it('answers 500 when onUnlink fails within the budget', async () => {
    const app = await startApp({
      onUnlink: () => Promise.reject(new Error('database down')),
    });
    await post(app, form()).expect(500);
    expect(app.logs).toContainEqual(
      expect.objectContaining({ level: 'error', reason: 'handler_failed', userId: MINJI }),
    );
  });

  it('answers 500 when onUnlink throws synchronously', async () => {
    const app = await startApp({
      onUnlink: () => {
        throw new Error('not async');
      },
    });
    await post(app, form()).expect(500);
  });

  it('runs onUnlink once for notifications about the same user that overlap', async () => {
    const gate = deferred();
    let calls = 0;
    const app = await startApp({
      onUnlink: async () => {
        calls++;
        await gate.promise;
      },
    });
    const first = post(app, form()).then((r) => r.status);
    const second = post(app, form({ referrer_type: 'ACCOUNT_DELETE' })).then((r) => r.status);
    await waitFor(() => calls === 1);
    await new Promise((r) => setTimeout(r, 50));
    gate.resolve();
    await expect(Promise.all([first, second])).resolves.toEqual([200, 200]);
    expect(calls).toBe(1);
    // Once settled, a new notification runs again.
    await post(app, form()).expect(200);
    expect(calls).toBe(2);
  });
});

describe('unlink webhook: options', () => {
  const base = { adminKey: ADMIN_KEY, appId: APP_ID, onUnlink: async () => undefined };

  it.each([
    ['a missing adminKey', { ...base, adminKey: undefined }, /"adminKey"/],
    ['a non-numeric appId', { ...base, appId: 'my-app' }, /"appId" must be the numeric app id/],
    ['a missing onUnlink', { ...base, onUnlink: undefined }, /"onUnlink" must be an async function/],
    ['a timeout beyond Kakao’s 3 s', { ...base, timeoutMs: 5000 }, /Kakao gives up after 3 s/],
    ['a misspelt option', { ...base, timeoutMS: 100 }, /did you mean "timeoutMs"/],
  ])('rejects %s with a teaching TypeError', (_name, options, message) => {
    expect(() => createUnlinkWebhookHandler(options as unknown as UnlinkWebhookOptions)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(message) as unknown,
      }),
    );
  });

  it('never quotes a malformed admin key', () => {
    try {
      createUnlinkWebhookHandler({ ...base, adminKey: 's3cr3t with space' });
      throw new Error('expected a throw');
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cr3t');
    }
  });
});

describe('unlink webhook: end to end with the emulator', () => {
  let emulator: KakaoEmulator | undefined;

  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  async function linkAtEmulator(userId: string): Promise<void> {
    const query = new URLSearchParams({
      client_id: emulator!.clientID,
      redirect_uri: 'http://127.0.0.1:9/cb',
      response_type: 'code',
      login_hint: userId,
    });
    const response = await fetch(`${emulator!.authOrigin}/oauth/authorize?${query.toString()}`, {
      redirect: 'manual',
    });
    await response.body?.cancel();
  }

  it.each(['POST', 'GET'] as const)(
    'Kakao unlinking a user calls the %s webhook, which answers 200 and runs onUnlink',
    async (method) => {
      const app = await startApp({ appId: '1000001', adminKey: 'emulator-admin-key' });
      emulator = await createKakaoEmulator({
        autoApprove: true,
        webhookUrl: `${app.url}${PATH}`,
        webhookMethod: method,
      });
      await linkAtEmulator(JIHO);
      const started = Date.now();
      await expect(emulator.unlinkFromKakao(JIHO, 'ACCOUNT_DELETE')).resolves.toBe(200);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(app.events).toEqual([
        { userId: JIHO, appId: String(emulator.appId), referrerType: 'ACCOUNT_DELETE' },
      ]);
    },
  );

  it('a webhook configured with another key answers the emulator 401 and deletes nothing', async () => {
    const app = await startApp({ appId: '1000001', adminKey: 'another-admin-key' });
    emulator = await createKakaoEmulator({ autoApprove: true, webhookUrl: `${app.url}${PATH}` });
    await linkAtEmulator(MINJI);
    await expect(emulator.unlinkFromKakao(MINJI)).resolves.toBe(401);
    expect(app.events).toEqual([]);
  });
});
