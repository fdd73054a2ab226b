/**
 * One persistent connection per sandbox agent, carrying every operation as a channel of the
 * stream multiplexer (mux.ts; the agent side is guest-mux.c, the same code a microVM runs).
 * Opening a channel is one frame on a socket that is already connected: no connect(), no
 * accept() and no new socket handle per exec or file call.
 *
 * The connection is made on first use and made again after it is lost: when the agent side
 * goes away (the sandbox ended, or the agent's mux process died) every open channel fails at
 * once with `lostMessage`, nothing waits for a reply that cannot come, and the next operation
 * reconnects. An agent that does not know the mux operation (one started by an older build)
 * answers with a fail frame; that sandbox then keeps one connection per operation.
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';
import { encodeFrame, Op, Out } from './frames.js';
import { MuxSession } from './mux.js';

/** How long a new connection may take to say hello (a paused sandbox never does). */
export const AGENT_HELLO_TIMEOUT_MS = 15_000;

type Link = { kind: 'mux'; session: MuxSession; sock: Socket } | { kind: 'per-operation' };

export class AgentSession {
  private link: Promise<Link> | undefined;
  private closed = false;

  /** @param multiplex false: one connection per operation (the spike's comparison). */
  constructor(
    public socketPath: string,
    public sandboxId: string,
    multiplex = true,
    private readonly helloTimeoutMs = AGENT_HELLO_TIMEOUT_MS,
  ) {
    if (!multiplex) this.link = Promise.resolve({ kind: 'per-operation' });
  }

  /** See AgentClient.renamed. */
  renamed(socketPath: string, sandboxId: string): void {
    this.socketPath = socketPath;
    this.sandboxId = sandboxId;
  }

  /** A new byte stream to the agent for one operation. */
  async open(): Promise<Duplex> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw this.notAnswering('the engine released this sandbox');
      const pending = this.link ?? this.connectOnce();
      const link = await pending;
      if (link.kind === 'per-operation') return this.connectSocket();
      try {
        const channel = link.session.open();
        // Behave as a socket without half-open does: the agent's EOF ends our side too, so the
        // channel closes (a relay whose inner end went away, e.g. a crashed code kernel).
        channel.once('end', () => channel.end());
        // An idle connection must not keep the process alive; a channel in flight does.
        link.sock.ref();
        channel.once('close', () => {
          if (link.session.openChannels === 0) link.sock.unref();
        });
        return channel;
      } catch (err) {
        // Lost between the connect and this open: connect again, once.
        if (this.link === pending) this.link = undefined;
        if (attempt > 0) throw err;
      }
    }
  }

  /** Whether operations share one multiplexed connection (false until the first one). */
  async multiplexed(): Promise<boolean> {
    return (await (this.link ?? this.connectOnce())).kind === 'mux';
  }

  /** Drop the connection: open channels fail, and no new one is made. */
  close(): void {
    this.closed = true;
    const link = this.link;
    this.link = undefined;
    void link?.then(
      (l) => {
        if (l.kind === 'mux') l.session.close(new Error('the engine released this sandbox'));
      },
      () => {},
    );
  }

  private connectOnce(): Promise<Link> {
    const pending = this.handshake();
    this.link = pending;
    pending.then(
      (link) => {
        if (link.kind !== 'mux') return;
        link.session.onLost = () => {
          if (this.link === pending) this.link = undefined;
        };
        if (this.closed) link.session.close(new Error('the engine released this sandbox'));
      },
      () => {
        if (this.link === pending) this.link = undefined;
      },
    );
    return pending;
  }

  private notAnswering(why: string): MitosError {
    return new MitosError('sandbox_not_running', `the sandbox agent is not answering (${why})`, {
      sandbox: this.sandboxId,
    });
  }

  /** Connect and ask for the mux; the first reply tells which protocol the agent speaks. */
  private handshake(): Promise<Link> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.socketPath);
      let head = Buffer.alloc(0);
      let settled = false;
      const done = (err: Error | undefined, link?: Link) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.off('data', onData);
        sock.off('error', onError);
        sock.off('close', onClose);
        if (err || link?.kind !== 'mux') sock.destroy();
        if (err) reject(err);
        else resolve(link as Link);
      };
      const onError = (err: NodeJS.ErrnoException) => done(this.notAnswering(err.code ?? err.message));
      const onClose = () => done(this.notAnswering('it closed the connection'));
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        // A frame of the per-operation protocol has its type at byte 4; a mux frame has the
        // channel id there, and the hello comes on channel 0.
        if (head.length < 5) return;
        if (head[4] === Out.fail.charCodeAt(0)) {
          done(undefined, { kind: 'per-operation' });
          return;
        }
        sock.pause();
        const session = new MuxSession(
          'the connection to the sandbox agent was lost (the sandbox ended or its agent exited)',
        );
        done(undefined, { kind: 'mux', session, sock });
        sock.unshift(head);
        session.attach(sock);
        sock.resume();
        sock.unref();
      };
      const timer = setTimeout(
        () => done(this.notAnswering(`no answer within ${this.helloTimeoutMs} ms`)),
        this.helloTimeoutMs,
      );
      sock.on('data', onData);
      sock.on('error', onError);
      sock.on('close', onClose);
      sock.once('connect', () => sock.write(encodeFrame(Op.mux)));
    });
  }

  /** The per-operation protocol: one new connection. */
  private connectSocket(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.socketPath);
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (err: NodeJS.ErrnoException) => reject(this.notAnswering(err.code ?? err.message)));
    });
  }
}
