// Test harness of this consumer: emulator from the package (its strategyOptions connect the app to
// it), app on a free port, one ready line for the runner, a clean stop on SIGTERM.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKakaoEmulator } from 'kakao-login-express/testing';
import { createApp } from './app.js';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const kakao = await createKakaoEmulator({ autoApprove: true, autoApproveUserId: env('KAKAO_USER_ID') });
const server = http.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const { app, close } = await createApp({
  redisUrl: env('REDIS_URL'),
  prefix: env('KEY_PREFIX'),
  sessionSecret: env('SESSION_SECRET'),
  tokenKeys: env('TOKEN_ENCRYPTION_KEYS'),
  kakao: kakao.strategyOptions,
  callbackURL: `${url}/auth/kakao/callback`,
});
server.on('request', app);
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void Promise.all([close(), kakao.close()]).finally(() => process.exit(0));
});
console.log(
  `KLE_CONSUMER_READY ${JSON.stringify({ url, emulator: kakao.url, emulatorToken: kakao.controlToken })}`,
);
