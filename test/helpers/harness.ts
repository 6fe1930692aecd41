import supertest from 'supertest';
import type { KakaoAuthOptionsWithStrategyOptions, KakaoLogEvent } from 'kakao-login-express';
import {
  createKakaoEmulator,
  type KakaoEmulator,
  type KakaoEmulatorOptions,
} from 'kakao-login-express/testing';
import { loadConfig } from '../../example-app/config';
import { startExampleApp, type RunningApp } from '../../example-app/server';

/** The example app (started from its environment variables, as outside tests do) plus an emulator. */
export interface Harness {
  emulator: KakaoEmulator;
  app: RunningApp;
  /** Security events the library logged. */
  events: KakaoLogEvent[];
  /** Lines the example app printed (start-up notes and warnings). */
  lines: string[];
  /** A fresh cookie-jar client against the app's real socket. */
  agent(): supertest.Agent;
  close(): Promise<void>;
}

/** Starts an emulator (auto-approve unless told otherwise) and the example app pointed at it. */
export async function startHarness(
  options: {
    env?: Record<string, string>;
    emulator?: KakaoEmulatorOptions;
    overrides?: Partial<KakaoAuthOptionsWithStrategyOptions>;
    /** Share another harness's emulator (it is then not closed by this harness). */
    sharedEmulator?: KakaoEmulator;
  } = {},
): Promise<Harness> {
  const emulator =
    options.sharedEmulator ??
    (await createKakaoEmulator({ autoApprove: true, tokenRateLimit: false, ...options.emulator }));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    KAKAO_CLIENT_ID: emulator.clientID,
    KAKAO_AUTH_ORIGIN: emulator.authOrigin,
    KAKAO_API_ORIGIN: emulator.apiOrigin,
    KAKAO_ADMIN_KEY: emulator.adminKey,
    KAKAO_APP_ID: String(emulator.appId),
    ...(emulator.clientSecret !== undefined && { KAKAO_CLIENT_SECRET: emulator.clientSecret }),
    ...options.env,
  });
  const events: KakaoLogEvent[] = [];
  const lines: string[] = [];
  const app = await startExampleApp(config, {
    logger: (event) => events.push(event),
    ...(options.overrides && { overrides: options.overrides }),
    log: (line) => lines.push(line),
  });
  return {
    emulator,
    app,
    events,
    lines,
    agent: () => supertest.agent(app.url),
    close: async () => {
      await app.close();
      if (!options.sharedEmulator) await emulator.close();
    },
  };
}

/** Follows the login: start at the app, authorize at the emulator, come back to the callback. */
export async function login(
  h: Harness,
  agent: supertest.Agent,
  options: { returnTo?: string; loginHint?: string } = {},
): Promise<supertest.Response> {
  const start = await agent
    .get('/auth/kakao')
    .query(options.returnTo === undefined ? {} : { returnTo: options.returnTo })
    .redirects(0);
  if (start.status !== 302) throw new Error(`login start answered ${start.status}`);
  const callback = await authorizeAtEmulator(start.headers.location!, options.loginHint);
  return agent.get(callback.pathname + callback.search).redirects(0);
}

/** Sends the browser to the emulator's authorize URL and returns where it redirects back to. */
export async function authorizeAtEmulator(authorizeUrl: string, loginHint?: string): Promise<URL> {
  const url = new URL(authorizeUrl);
  if (loginHint) url.searchParams.set('login_hint', loginHint);
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`emulator authorize answered ${res.status}`);
  return new URL(location);
}

/** Every string in `haystack` that contains one of the secrets. */
export function leakedSecrets(haystack: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => s.length >= 8 && haystack.includes(s));
}
