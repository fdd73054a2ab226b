/**
 * Waiting for a socket to take more data.
 * @module
 */
import type { Duplex } from 'node:stream';

/**
 * Resolves once `sock` drains or closes, and removes both listeners whichever comes first: a
 * long streamed write waits many times, and a `close` listener left per wait would pile up.
 */
export function untilWritable(sock: Duplex): Promise<void> {
  if (sock.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.once('drain', done);
    sock.once('close', done);
  });
}
