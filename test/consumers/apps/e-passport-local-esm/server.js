// Test harness of this consumer: emulator from the package, app on a free port, one ready line.
import http from 'node:http';
import { createKakaoEmulator } from 'kakao-login-express/testing';
import { createApp } from './app.js';

const kakao = await createKakaoEmulator({ autoApprove: true, autoApproveUserId: process.env.KAKAO_USER_ID });
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}`;
const { app, ready, close } = createApp({
  redisUrl: process.env.REDIS_URL,
  prefix: process.env.KEY_PREFIX,
  sessionSecret: process.env.SESSION_SECRET,
  tokenKeys: process.env.TOKEN_ENCRYPTION_KEYS,
  kakao: { clientID: kakao.clientID, authOrigin: kakao.authOrigin, apiOrigin: kakao.apiOrigin },
  callbackURL: `${url}/auth/kakao/callback`,
});
await ready;
server.on('request', app);
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  Promise.all([close(), kakao.close()]).finally(() => process.exit(0));
});
console.log(
  `KLE_CONSUMER_READY ${JSON.stringify({ url, emulator: kakao.url, emulatorToken: kakao.controlToken })}`,
);
