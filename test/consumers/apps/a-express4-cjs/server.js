'use strict';
// Test harness of this consumer: the Kakao emulator from the package's testing entry point, the app
// on a free port, one ready line for the runner, a clean stop on SIGTERM.
const http = require('node:http');
const { createKakaoEmulator } = require('kakao-login-express/testing');
const { createApp } = require('./app');

async function main() {
  const kakao = await createKakaoEmulator({
    autoApprove: true,
    autoApproveUserId: process.env.KAKAO_USER_ID,
  });
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
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
