/**
 * The credential of a port forward on a server that requires API keys. A forward is a plain
 * loopback listener, which every local user of the host can connect to; so unless the forward
 * was explicitly opened to them, a connection must first send the forward's token and a
 * newline. Anything after the newline is the client's own data and reaches the sandbox.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';

export const FORWARD_TOKEN_TIMEOUT_MS = 10_000;
const MAX_PREFACE_BYTES = 256;

export function newForwardToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Resolves true once the client sent `token\n` (the rest is pushed back), false otherwise. */
export function acceptTokenPreface(client: Socket, token: string): Promise<boolean> {
  const expected = Buffer.from(`${token}\n`);
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (ok: boolean, rest?: Buffer) => {
      clearTimeout(timer);
      client.off('data', onData);
      client.off('close', onClose);
      client.pause();
      if (ok && rest && rest.length > 0) client.unshift(rest);
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const nl = got.indexOf(0x0a);
      if (nl < 0) {
        if (got.length > MAX_PREFACE_BYTES) done(false);
        return;
      }
      const line = got.subarray(0, nl + 1);
      const ok = line.length === expected.length && timingSafeEqual(line, expected);
      done(ok, got.subarray(nl + 1));
    };
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), FORWARD_TOKEN_TIMEOUT_MS);
    client.on('data', onData);
    client.once('close', onClose);
  });
}
