/**
 * Unit tests run without a network: opening a server or a connection fails the test that tries, so a
 * socket cannot creep into the unit project (those tests belong in test/integration). Jest workers are
 * shared with the other projects, so the guard is lifted again after each file.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
const connect = net.Socket.prototype.connect;
const refuse = (what: string) =>
  function (): never {
    throw new Error(`unit tests open no sockets (${what}): move this test to test/integration`);
  };

beforeAll(() => {
  net.Server.prototype.listen = refuse('listen') as typeof listen;
  net.Socket.prototype.connect = refuse('connect') as typeof connect;
});
afterAll(() => {
  net.Server.prototype.listen = listen;
  net.Socket.prototype.connect = connect;
});
