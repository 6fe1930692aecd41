/**
 * The command deadline (lib/stores/redis-client.ts): a command that does not answer in time fails with
 * RedisUnavailableError, but an answer that has arrived by the time the deadline fires still counts (a
 * busy event loop runs due timers before it reads sockets). Over a real loopback socket.
 */
import net from 'node:net';
import { RedisUnavailableError, withDeadline } from '../../lib/stores/redis-client';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server';

// A redis-server process of this file's own: it answers while this process's event loop is blocked.
let server: RedisServerHandle;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.kill();
});

function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // The event loop is blocked; Redis answers meanwhile and the answer waits in the socket buffer.
  }
}

test('an answer read in the same turn as the deadline fires counts', async () => {
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  try {
    const reply = new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));
    socket.write('PING\r\n');
    const guarded = withDeadline(reply, 20);
    busyFor(80);
    await expect(guarded).resolves.toBe('+PONG\r\n');
  } finally {
    socket.destroy();
  }
});

test('no answer: RedisUnavailableError after the deadline', async () => {
  const startedAt = Date.now();
  await expect(withDeadline(new Promise<never>(() => undefined), 30)).rejects.toBeInstanceOf(
    RedisUnavailableError,
  );
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(25);
});

test('a failure is passed on as it is', async () => {
  const failure = new Error('ERR wrong');
  await expect(withDeadline(Promise.reject(failure), 1000)).rejects.toBe(failure);
});
