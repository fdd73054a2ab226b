/**
 * The agent client (agent/client.ts) speaks the frame protocol over one unix
 * socket connection per operation. A VM has one port instead, so each VM gets a host-only unix
 * listener (mode 0600, in the engine's state dir) whose every connection becomes a mux
 * channel. The exec, files, pty, process and code-kernel code is then shared unchanged.
 */
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { MuxSession } from '../../agent/mux.js';

export class ChannelProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    private session: MuxSession,
  ) {
    this.server = createServer({ allowHalfOpen: true }, (sock) => this.accept(sock));
  }

  static async listen(path: string, session: MuxSession): Promise<ChannelProxy> {
    rmSync(path, { force: true });
    const proxy = new ChannelProxy(path, session);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(path, () => {
        proxy.server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    return proxy;
  }

  /** Point new connections at another session (a restored parent keeps its proxy). */
  retarget(session: MuxSession): void {
    this.session = session;
  }

  private accept(sock: Socket): void {
    let ch: ReturnType<MuxSession['open']>;
    try {
      ch = this.session.open();
    } catch {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.pipe(ch);
    ch.pipe(sock);
    const done = () => {
      this.sockets.delete(sock);
      if (!ch.destroyed) ch.destroy();
      if (!sock.destroyed) sock.destroy();
    };
    sock.on('close', done);
    sock.on('error', done);
    ch.on('close', () => {
      // A channel the guest ended cleanly has been piped to sock.end(); only an abort kills it.
      if (!ch.readableEnded) sock.destroy();
    });
    ch.on('error', done);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}
