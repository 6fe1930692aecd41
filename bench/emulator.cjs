/* global require, process, console */
/* eslint-disable @typescript-eslint/no-require-imports */
// The benchmark's Kakao emulator, in its own process so that it does not take CPU from the apps.
// Prints one line `emulator <json>` with its URL and client id, then runs until SIGTERM.
const { createKakaoEmulator } = require('../dist/testing');

const USERS = Number(process.env.BENCH_USERS ?? 2000);
const FIRST_ID = 6_100_000_000;

async function main() {
  const emulator = await createKakaoEmulator({
    autoApprove: true,
    tokenRateLimit: false,
    // The bench reads the log only after resetting it; a short log keeps the emulator's memory flat.
    maxRequestLog: 2000,
    // Set by bench/run.mjs, which drives the control API from another process.
    controlToken: process.env.BENCH_EMULATOR_TOKEN,
    users: Array.from({ length: USERS }, (_, i) => ({
      id: String(FIRST_ID + i),
      nickname: `Bench ${i}`,
      email: `bench${i}@example.com`,
    })),
  });
  console.log(
    `emulator ${JSON.stringify({ url: emulator.url, clientID: emulator.clientID, firstUserId: FIRST_ID, users: USERS })}`,
  );
  const stop = () => emulator.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`bench emulator failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
