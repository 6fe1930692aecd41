/**
 * Unit tests run without a network: opening a server or a connection fails the test that tries, so a
 * socket cannot creep into the unit project (those tests belong in test/integration).
 */
import net from 'node:net';

const refuse = (what: string) =>
  function (): never {
    throw new Error(`unit tests open no sockets (${what}): move this test to test/integration`);
  };
net.Server.prototype.listen = refuse('listen') as typeof net.Server.prototype.listen;
net.Socket.prototype.connect = refuse('connect') as typeof net.Socket.prototype.connect;
