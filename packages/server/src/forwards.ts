/**
 * Port forwards (POST /v1/sandboxes/{id}/forward): a loopback listener per forward whose every
 * connection is bridged to 127.0.0.1:<guest port> inside the sandbox. The guest side is dialled
 * per connection, so a forward can be opened before the guest server is up. At most
 * `maxPerSandbox` per sandbox; all of a sandbox's forwards close when it goes, and all close
 * when the server stops.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';
import { acceptTokenPreface, newForwardToken } from './forward-token.js';
import { splice } from './splice.js';

export const MAX_FORWARDS_PER_SANDBOX = 16;

export type PortConnector = (sandboxId: string, port: number) => Promise<Duplex>;

export interface OpenForward {
  /** The loopback port the listener got. */
  port: number;
  /** Present when connections must first send `token\n` (see forward-token.ts). */
  token?: string;
}

export class ForwardRegistry {
  readonly #connect: PortConnector;
  readonly #max: number;
  readonly #requireToken: boolean;
  readonly #bySandbox = new Map<string, Set<Forward>>();

  /** requireToken: the server requires API keys, so forwards do too unless opened explicitly. */
  constructor(connect: PortConnector, maxPerSandbox = MAX_FORWARDS_PER_SANDBOX, requireToken = false) {
    this.#connect = connect;
    this.#max = maxPerSandbox;
    this.#requireToken = requireToken;
  }

  async open(sandboxId: string, guestPort: number, options: { open?: boolean } = {}): Promise<OpenForward> {
    const forwards = this.#bySandbox.get(sandboxId) ?? new Set<Forward>();
    if (forwards.size >= this.#max) {
      throw new MitosError('too_many_forwards', `sandbox "${sandboxId}" already has ${forwards.size} forwards`, {
        sandbox: sandboxId,
        limit: this.#max,
      });
    }
    const token = this.#requireToken && options.open !== true ? newForwardToken() : undefined;
    const forward = new Forward(() => this.#connect(sandboxId, guestPort), guestPort, token);
    // Counted before listening, so concurrent opens cannot overshoot the cap.
    forwards.add(forward);
    this.#bySandbox.set(sandboxId, forwards);
    try {
      const port = await forward.listen();
      // The sandbox went (or the server closed) while the listener was starting.
      if (this.#bySandbox.get(sandboxId) !== forwards)
        throw new MitosError('not_found', `sandbox "${sandboxId}" is gone`);
      return token === undefined ? { port } : { port, token };
    } catch (err) {
      forward.close();
      this.#forget(sandboxId, forward);
      throw err;
    }
  }

  /** The open forwards of a sandbox: loopback port and guest port, in opening order. */
  list(sandboxId: string): { port: number; guestPort: number }[] {
    return [...(this.#bySandbox.get(sandboxId) ?? [])]
      .filter((f) => f.port !== undefined)
      .map((f) => ({ port: f.port ?? 0, guestPort: f.guestPort }));
  }

  /** Close the forward listening on loopback `port` and cut its connections; false if none. */
  close(sandboxId: string, port: number): boolean {
    const forward = [...(this.#bySandbox.get(sandboxId) ?? [])].find((f) => f.port === port);
    if (!forward) return false;
    forward.close();
    this.#forget(sandboxId, forward);
    return true;
  }

  count(sandboxId: string): number {
    return this.#bySandbox.get(sandboxId)?.size ?? 0;
  }

  /** Closes every forward of a sandbox and cuts their connections. */
  closeSandbox(sandboxId: string): void {
    for (const forward of this.#bySandbox.get(sandboxId) ?? []) forward.close();
    this.#bySandbox.delete(sandboxId);
  }

  closeAll(): void {
    for (const id of [...this.#bySandbox.keys()]) this.closeSandbox(id);
  }

  #forget(sandboxId: string, forward: Forward): void {
    const forwards = this.#bySandbox.get(sandboxId);
    forwards?.delete(forward);
    if (forwards?.size === 0) this.#bySandbox.delete(sandboxId);
  }
}

class Forward {
  readonly #server: Server;
  readonly #connections = new Set<Duplex>();
  #closed = false;

  /** The loopback port, once listening. */
  port: number | undefined;

  constructor(
    connect: () => Promise<Duplex>,
    readonly guestPort: number,
    readonly token?: string,
  ) {
    // Half-open lets one direction finish while the other still flows, as plain TCP does.
    this.#server = createServer({ allowHalfOpen: true }, (client) => this.#admit(client, connect));
  }

  #admit(client: Socket, connect: () => Promise<Duplex>): void {
    if (this.token === undefined) {
      this.#bridge(client, connect);
      return;
    }
    this.#track(client);
    client.on('error', () => client.destroy());
    void acceptTokenPreface(client, this.token).then((ok) => {
      if (ok && !this.#closed) this.#bridge(client, connect);
      else client.destroy();
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        this.port = (this.#server.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#server.close();
    for (const connection of this.#connections) connection.destroy();
    this.#connections.clear();
  }

  #bridge(client: Socket, connect: () => Promise<Duplex>): void {
    this.#track(client);
    client.on('error', () => client.destroy());
    connect().then(
      (upstream) => {
        if (this.#closed || client.destroyed) {
          upstream.destroy();
          return;
        }
        this.#track(upstream);
        splice(client, upstream);
      },
      () => client.destroy(),
    );
  }

  #track(stream: Duplex): void {
    this.#connections.add(stream);
    stream.once('close', () => this.#connections.delete(stream));
  }
}
