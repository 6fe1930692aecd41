import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  consoleLogger,
  startupWarnings,
  type KakaoAuthOptionsWithStrategyOptions,
  type KakaoAuthRouter,
  type KakaoLogger,
} from 'kakao-login-express';
import { createKakaoEmulator, type KakaoEmulator } from 'kakao-login-express/testing';
import { createApp } from './app';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { createRedis, type AppRedis } from './redis';

/** A running example app. */
export interface RunningApp {
  /** `http://<host>:<port>` with the real port. */
  url: string;
  callbackURL: string;
  server: http.Server;
  auth: KakaoAuthRouter;
  emulator: KakaoEmulator | undefined;
  /** The Redis connection (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES), if configured. */
  redis: AppRedis | undefined;
  /** Closes the HTTP server, Redis and the emulator. */
  close(): Promise<void>;
}

/** Starts the example app (and, in demo mode, the emulator it talks to). Used by `npm start` and tests. */
export async function startExampleApp(
  config: AppConfig,
  options: {
    logger?: KakaoLogger;
    overrides?: Partial<KakaoAuthOptionsWithStrategyOptions>;
    log?: (line: string) => void;
  } = {},
): Promise<RunningApp> {
  const log = options.log ?? ((line: string) => console.log(line));
  // Until the app is attached (Redis and the emulator may take a moment), answer 503 rather than
  // leaving early requests hanging.
  const starting = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain' }).end('starting');
  };
  const server = http.createServer(starting);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // The contract's default redirect URI is on localhost with the real port, whatever HOST binds.
  const callbackURL = config.callbackURL ?? `http://localhost:${port}/auth/kakao/callback`;
  const appOrigin = new URL(callbackURL).origin;

  let emulator: KakaoEmulator | undefined;
  let effective = config;
  if (config.demo) {
    emulator = await createKakaoEmulator({
      redirectUris: [callbackURL],
      logoutRedirectUris: [`${appOrigin}/logout/kakao/callback`],
      webhookUrl: `${appOrigin}/webhooks/kakao/unlink`,
      // OpenID Connect "in the console" follows KAKAO_OIDC: with it off the emulator refuses scope=openid.
      oidc: config.oidc,
    });
    effective = {
      ...config,
      clientID: emulator.clientID,
      authOrigin: emulator.authOrigin,
      apiOrigin: emulator.apiOrigin,
      adminKey: emulator.adminKey,
      appId: String(emulator.appId),
    };
    log(`demo mode: Kakao is played by the built-in emulator at ${emulator.url} (this is NOT real Kakao)`);
  }
  const redis = config.redis ? createRedis(config.redis, options.logger) : undefined;
  // Commands fail fast while disconnected (no offline queue), so wait briefly for the first
  // connection; if Redis is down at start the app still starts and recovers when it returns.
  if (redis && !(await redis.waitUntilReady(3000))) {
    log('Redis is not reachable yet: requests needing it answer 503 until it is');
  }
  const { app, auth } = createApp({
    config: effective,
    callbackURL,
    ...(redis && { redis }),
    ...(emulator && { emulatorUrl: emulator.url }),
    ...(options.logger && { logger: options.logger }),
    ...(options.overrides && { overrides: options.overrides }),
  });
  server.off('request', starting);
  server.on('request', app);

  for (const warning of startupWarnings({
    router: auth,
    trustProxy: config.trustProxy,
    cookie: { secure: callbackURL.startsWith('https://'), sameSite: 'lax' },
  })) {
    log(`warning (${warning.code}): ${warning.message}`);
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.allSettled([redis?.close(), emulator?.close()]);
    })());
  return { url, callbackURL, server, auth, emulator, redis, close };
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  if (!config.production && (config.generated.sessionSecret || config.generated.tokenKeys)) {
    console.warn(
      'development: SESSION_SECRET / TOKEN_ENCRYPTION_KEYS not set, using random ones for this process (sessions end on restart)',
    );
  }
  const running = await startExampleApp(config, { logger: consoleLogger });
  console.log(`listening on ${running.url}`);
  const stop = () => {
    const force = setTimeout(() => process.exit(1), 4500);
    force.unref();
    running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`The example app failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
