import express from 'express';
import session from 'express-session';
import supertest from 'supertest';
import { kakaoAuth, silentLogger } from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';

const MINJI = '4120937465';
const JIHO = '1376016924429759228';

/** The smallest app a user would write: express-session plus kakaoAuth, configured from the emulator. */
function appFor(kakao: KakaoEmulator, extra: Record<string, unknown> = {}): express.Express {
  const auth = kakaoAuth({
    ...kakao.strategyOptions,
    callbackURL: 'http://127.0.0.1/auth/kakao/callback',
    logger: silentLogger,
    ...extra,
  });
  const app = express();
  app.use(session({ secret: 'login-as-test-secret', resave: false, saveUninitialized: false }));
  app.use(auth);
  app.get('/me', (req, res) => (req.user ? res.json(req.user) : res.sendStatus(401)));
  return app;
}

let kakao: KakaoEmulator;

beforeEach(async () => {
  kakao = await createKakaoEmulator();
});

afterEach(async () => {
  await kakao.close();
});

describe('emulator.loginAs', () => {
  test("a user's own test logs a chosen user in with three lines", async () => {
    const agent = supertest.agent(appFor(kakao));

    await kakao.loginAs(agent, MINJI);

    const me = await agent.get('/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: MINJI });
  });

  test('logs in the 19-digit user and follows returnTo; no autoApprove and no consent page involved', async () => {
    const agent = supertest.agent(appFor(kakao));
    const { location } = await kakao.loginAs(agent, JIHO, { returnTo: '/me' });
    expect(location).toBe('/me');
    expect((await agent.get('/me')).body).toMatchObject({ id: JIHO });
    expect(kakao.count('authorize')).toBe(0);
    expect(kakao.count('authorize_decision')).toBe(0);
    expect(kakao.requests.find((r) => r.endpoint === 'control')?.path).toBe('/_emulator/authorize');
  });

  test('another agent stays logged out', async () => {
    await kakao.loginAs(supertest.agent(appFor(kakao)), MINJI);
    expect((await supertest.agent(appFor(kakao)).get('/me')).status).toBe(401);
  });

  test('rejects clearly when the login start does not go to this emulator', async () => {
    const other = await createKakaoEmulator();
    try {
      const agent = supertest.agent(appFor(other));
      await expect(kakao.loginAs(agent, MINJI)).rejects.toThrow(
        /expected a 302 to http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize/,
      );
      await expect(kakao.loginAs(agent, MINJI, { loginPath: '/nope' })).rejects.toThrow(
        /GET \/nope answered 404/,
      );
    } finally {
      await other.close();
    }
  });

  test('rejects clearly when Kakao would stop on an error page or the app refuses the login', async () => {
    const strict = await createKakaoEmulator({ redirectUris: ['http://127.0.0.1/registered/callback'] });
    try {
      await expect(strict.loginAs(supertest.agent(appFor(strict)), MINJI)).rejects.toThrow(/KOE006/);
    } finally {
      await strict.close();
    }
    const refusing = supertest.agent(appFor(kakao, { toUser: () => false }));
    await expect(kakao.loginAs(refusing, MINJI)).rejects.toThrow(/login_error=user_rejected/);
    await expect(kakao.loginAs(refusing, MINJI)).rejects.toMatchObject({ code: 'ERR_KAKAO_EMULATOR_LOGIN' });
    await expect(kakao.loginAs(refusing, '')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(kakao.loginAs(supertest.agent(appFor(kakao)), '999')).rejects.toThrow(
      /no user with that id/,
    );
  });

  test('strategyOptions carry the client secret only when the emulator requires one', async () => {
    expect(Object.keys(kakao.strategyOptions).sort()).toEqual(['apiOrigin', 'authOrigin', 'clientID']);
    const withSecret = await createKakaoEmulator({ clientSecret: 'emulator-secret-123' });
    try {
      expect(withSecret.strategyOptions).toEqual({
        clientID: withSecret.clientID,
        clientSecret: 'emulator-secret-123',
        authOrigin: withSecret.authOrigin,
        apiOrigin: withSecret.apiOrigin,
      });
      const agent = supertest.agent(appFor(withSecret));
      await withSecret.loginAs(agent, MINJI);
      expect((await agent.get('/me')).status).toBe(200);
    } finally {
      await withSecret.close();
    }
  });
});
