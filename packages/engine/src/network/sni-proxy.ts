/**
 * The name check for `allow_domains`. A TCP connection from a sandbox to an address its
 * resolver granted is redirected here by nftables (rules.ts); the proxy reads the client's
 * first bytes, takes the name they ask for (TLS server name or HTTP Host, first-bytes.ts), and
 * joins the connection to its original destination only when the sandbox's posture lists that
 * name on that port. So a shared (CDN) address granted for one name does not open every site
 * it serves. Nothing is sent upstream before the check; the first bytes are replayed as read.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { domainMatches, type NetworkPosture, parseDomainEntry } from '@mitos/protocol';
import { readFirstBytes } from './first-bytes.js';
import { type AcceptedTuple, canonical, type Destination, originalDestination } from './original-destination.js';

export interface SniClient {
  slot: number;
  posture: NetworkPosture;
}

export interface SniProxyOptions {
  /** Who a sandbox-side address is (undefined for anyone else: closed at once). */
  clientOf(address: string): SniClient | undefined;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
  /**
   * The names this slot's resolver answers gave `address` for: a connection must name one of
   * them (an allowed name sent to an address it never resolved to is refused).
   */
  namesFor(slot: number, address: string): string[];
  /** How long a client may take to name its host. */
  firstBytesMs?: number;
  /** Where a redirected connection was going; conntrack by default. */
  destinationOf?(tuple: AcceptedTuple): Promise<Destination | undefined>;
}

/** A fatal TLS alert, unrecognized_name (RFC 6066 3): the client learns why, not just a reset. */
const TLS_UNRECOGNIZED_NAME = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

/** Whether the posture lets a connection that names `name` reach `port`. */
export function nameAllowed(posture: NetworkPosture, name: string | undefined, port: number): boolean {
  if (posture.block || !name) return false;
  return (posture.allow_domains ?? []).some((entry) => {
    const d = parseDomainEntry(entry);
    return d !== undefined && d.port === port && domainMatches(d.pattern, name);
  });
}

export class SniProxy {
  /** Bytes sandboxes sent through the proxy, by link slot (added to egress metering). */
  readonly sentBySlot = new Map<number, number>();
  private readonly sockets = new Set<Socket>();
  /** Joined connections, with what they were let through for (a live change re-checks them). */
  private readonly joined = new Map<Socket, { slot: number; name: string; port: number }>();

  private constructor(
    private readonly server: Server,
    private readonly opts: SniProxyOptions,
  ) {}

  static async listen(opts: SniProxyOptions): Promise<SniProxy> {
    // Half-open both ways: a client that shuts its sending side (request sent, answer awaited)
    // must still get the answer, so one side's end is passed on, not taken as a close.
    const server = createServer({ allowHalfOpen: true });
    const proxy = new SniProxy(server, opts);
    server.on('connection', (socket) => proxy.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '::', ipv6Only: false }, () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(socket: Socket): void {
    this.track(socket);
    const client = this.opts.clientOf(canonical(socket.remoteAddress ?? ''));
    if (!client) return void socket.destroy();
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), this.opts.firstBytesMs ?? 10_000);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const seen = readFirstBytes(buf);
      if (seen.kind === 'more') return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      void this.decide(socket, client, buf, seen.kind === 'unknown' ? undefined : seen.name, seen.kind);
    };
    // A client that stops sending before it named a host will not name one.
    const onEnd = () => socket.destroy();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', () => clearTimeout(timer));
  }

  private async decide(
    socket: Socket,
    client: SniClient,
    first: Buffer,
    name: string | undefined,
    kind: 'tls' | 'http' | 'unknown',
  ): Promise<void> {
    const tuple = {
      clientAddress: socket.remoteAddress ?? '',
      clientPort: socket.remotePort ?? 0,
      proxyPort: this.port,
    };
    const found = await (this.opts.destinationOf ?? originalDestination)(tuple).catch(() => undefined);
    // A connection made to the proxy's own port was never redirected: it has nowhere to go.
    const destination = found?.port === this.port ? undefined : found;
    const resolvedThere =
      destination && name ? this.opts.namesFor(client.slot, destination.address).includes(name) : false;
    if (!destination || !resolvedThere || !nameAllowed(client.posture, name, destination.port)) {
      this.opts.log('info', 'refused a connection whose name is not in allow_domains', {
        slot: client.slot,
        name: name ?? null,
        protocol: kind,
        destination: destination ? `${destination.address}:${destination.port}` : null,
      });
      return refuse(socket, kind, name);
    }
    const upstream = tcpConnect({ host: destination.address, port: destination.port, allowHalfOpen: true });
    this.track(upstream);
    this.joined.set(socket, { slot: client.slot, name: name as string, port: destination.port });
    socket.once('close', () => this.joined.delete(socket));
    upstream.once('connect', () => {
      upstream.write(first);
      this.count(client.slot, first.length);
      socket.on('data', (d: Buffer) => this.count(client.slot, d.length));
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
    upstream.once('close', () => socket.destroy());
    socket.once('close', () => upstream.destroy());
  }

  private count(slot: number, bytes: number): void {
    this.sentBySlot.set(slot, (this.sentBySlot.get(slot) ?? 0) + bytes);
  }

  /** A sandbox's posture changed: cut its joined connections whose name it no longer lists. */
  recheck(slot: number, posture: NetworkPosture): void {
    for (const [socket, c] of this.joined) {
      if (c.slot === slot && !nameAllowed(posture, c.name, c.port)) socket.destroy();
    }
  }

  /** Forget a slot's byte count (its sandbox is gone, the slot may be reused). */
  forget(slot: number): void {
    this.sentBySlot.delete(slot);
  }
}

function refuse(socket: Socket, kind: 'tls' | 'http' | 'unknown', name: string | undefined): void {
  // Half-open sockets wait for the client's end: a refused one is closed once the answer is out.
  const close = () => socket.destroy();
  if (kind === 'tls') return void socket.end(TLS_UNRECOGNIZED_NAME, close);
  if (kind === 'http') {
    const why = name ? `${name} is not in this sandbox's allow_domains` : 'the request names no host';
    return void socket.end(
      `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nmitos: ${why} for this port\n`,
      close,
    );
  }
  socket.destroy();
}
