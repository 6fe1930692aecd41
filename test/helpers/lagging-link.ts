/**
 * A TCP relay on 127.0.0.1 that delivers what the target sends `delayMs` late: put it between a
 * replica and its master (`--replicaof 127.0.0.1 <link.port>`) to model a replication link that lags,
 * as one under load or across zones does.
 *
 * `sever()` models the master's host dying: every connection is dropped at once and the bytes still
 * in flight are lost (a SIGKILLed process on loopback loses nothing its kernel already accepted, a
 * crashed host loses everything not yet delivered). Later connections are refused.
 */

import { createConnection, createServer, type Socket } from 'node:net';

/** A running relay. */
export interface LaggingLink {
  /** The port to connect to instead of the target's. */
  port: number;
  /** Delay of the target → client direction, in ms. */
  delayMs: number;
  /** Bytes the target sent that were not delivered yet (lost on sever). */
  pendingBytes(): number;
  /**
   * Drops every connection and everything in flight; refuses new connections. Returns how many bytes
   * were lost (0 when already severed).
   */
  sever(): number;
  /** sever() and wait until the listener is closed. */
  close(): Promise<void>;
}

/** Starts a relay to `127.0.0.1:<targetPort>` on a free port. */
export async function startLaggingLink(targetPort: number, delayMs: number): Promise<LaggingLink> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let pending = 0;
  let severed = false;
  const server = createServer((client) => {
    if (severed) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.once('close', () => {
        sockets.delete(socket);
        // Either side closing ends the pair, after the delayed bytes (unless severed).
        const other = socket === client ? upstream : client;
        if (socket === client) other.destroy();
        else later(() => other.end());
      });
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      pending += chunk.length;
      later(() => {
        pending -= chunk.length;
        client.write(chunk);
      });
    });
  });
  const later = (fn: () => void) => {
    if (severed) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!severed) fn();
    }, delayMs);
    timers.add(timer);
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const sever = () => {
    if (severed) return 0;
    severed = true;
    const lost = pending;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    pending = 0;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    server.close();
    return lost;
  };
  return {
    port,
    delayMs,
    pendingBytes: () => pending,
    sever,
    close: async () => {
      sever();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}
