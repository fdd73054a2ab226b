/**
 * The server's DNS resolver for its sandboxes. It runs in the server process, on the host side
 * of every link (nftables redirects each sandbox's port 53 to it, and only the sandbox's own
 * address passes the input filter), so nothing a sandbox's root does can change what it says.
 * It knows the asker by source address, answers only what the asker's posture allows
 * (dns-policy.ts), forwards those questions upstream, and has the answered addresses granted
 * in the asker's nftables sets before the answer leaves, so a connection right after the
 * answer is already allowed. Everything else gets NXDOMAIN without an upstream question.
 */

import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP, type Server as TcpServer, connect as tcpConnect, createServer as tcpServer } from 'node:net';
import type { NetworkPosture } from '@mitos/protocol';
import dnsPacket, { type Packet } from 'dns-packet';
import { type DnsGrant, decide, filterAnswer } from './dns-policy.js';
import { canonical } from './original-destination.js';

export interface DnsUpstream {
  host: string;
  port: number;
}

export interface ResolverClient {
  slot: number;
  posture: NetworkPosture;
}

export interface DnsResolverOptions {
  upstreams: DnsUpstream[];
  /** The sandbox behind a source address (undefined: not a sandbox of this server, refused). */
  clientOf(address: string): ResolverClient | undefined;
  /** Make these addresses reachable for the sandbox in `slot`; resolves once they are. */
  grant(slot: number, grants: DnsGrant[]): Promise<void>;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

const UPSTREAM_TIMEOUT_MS = 2000;
const MAX_CACHE_SECONDS = 300;
const MAX_CACHE_ENTRIES = 10_000;
/** A grant this close to expiring is programmed again rather than trusted. */
const REFRESH_MARGIN_MS = 10_000;

/** Upstream resolvers: $MITOS_DNS_UPSTREAM (`ip[:port],...`) or the host's /etc/resolv.conf. */
export function defaultUpstreams(env = process.env.MITOS_DNS_UPSTREAM): DnsUpstream[] {
  if (env) return env.split(',').map((s) => parseUpstream(s.trim()));
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
    .map((m) => (m[1] as string).replace(/%.*$/, ''))
    .filter((h) => isIP(h) !== 0)
    .map((host) => ({ host, port: 53 }));
}

export function parseUpstream(text: string): DnsUpstream {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(text);
  const m = bracketed ?? (isIP(text) === 6 ? [text, text, undefined] : plain);
  if (!m || isIP(m[1] as string) === 0) throw new Error(`not a DNS upstream (ip[:port]): ${JSON.stringify(text)}`);
  return { host: m[1] as string, port: m[2] ? Number(m[2]) : 53 };
}

interface Cached {
  packet: Packet;
  storedAt: number;
  expiresAt: number;
}

export class DnsResolver {
  private readonly cache = new Map<string, Cached>();
  /** Per slot: `address|port` -> when its nftables entry expires (ms). */
  private readonly granted = new Map<number, Map<string, number>>();
  /** Per slot: granted address -> the names it was answered for -> until when (ms). */
  private readonly answeredFor = new Map<number, Map<string, Map<string, number>>>();

  private constructor(
    private readonly opts: DnsResolverOptions,
    private readonly udp: UdpSocket,
    private readonly tcp: TcpServer,
    readonly port: number,
  ) {
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, rinfo.address).then((out) => {
        if (out) udp.send(out, rinfo.port, rinfo.address);
      });
    });
    tcp.on('connection', (socket) => {
      socket.setTimeout(10_000, () => socket.destroy());
      socket.on('error', () => socket.destroy());
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const msg = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + msg.length);
          void this.answer(Buffer.from(msg), socket.remoteAddress ?? '').then((out) => {
            if (out && !socket.destroyed) socket.write(Buffer.concat([lengthPrefix(out.length), out]));
          });
        }
      });
    });
  }

  /** Listen on one free port, UDP and TCP alike, on every address (nftables decides who reaches it). */
  static async listen(opts: DnsResolverOptions): Promise<DnsResolver> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 8; attempt++) {
      const udp = await bindUdp();
      const port = udp.address().port;
      const tcp = tcpServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port, host: udp.address().family === 'IPv6' ? '::' : '0.0.0.0' }, resolve);
        });
        // The resolver serves whatever else keeps the process up (the API server); alone, as in
        // an engine opened and never closed, it must not keep a process from exiting.
        udp.unref();
        tcp.unref();
        return new DnsResolver(opts, udp, tcp, port);
      } catch (err) {
        lastError = err;
        udp.close();
      }
    }
    throw lastError;
  }

  /** Forget what was granted for a slot (its sets were flushed or removed); all slots without one. */
  forget(slot?: number): void {
    if (slot === undefined) {
      this.granted.clear();
      this.answeredFor.clear();
    } else {
      this.granted.delete(slot);
      this.answeredFor.delete(slot);
    }
  }

  async close(): Promise<void> {
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }

  /** The reply to one query from `source`, or undefined when it is not worth one. */
  async answer(message: Buffer, source: string): Promise<Buffer | undefined> {
    let query: Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (query.type !== 'query' || !question) return undefined;
    // The rcode is the low four bits of the flags (dns-packet encodes no separate field).
    const reply = (rcode: number, answers: Packet['answers'] = []) =>
      dnsPacket.encode({
        id: query.id,
        type: 'response',
        flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | rcode,
        questions: [question],
        answers,
      });
    const client = this.opts.clientOf(source);
    if (!client) return reply(RCODE.REFUSED);
    const decision = decide(client.posture, question.name);
    if (decision.kind === 'refuse') return reply(RCODE.NXDOMAIN);
    try {
      const upstream = await this.resolve(question);
      if (decision.kind === 'forward') return reply(rcodeOf(upstream), upstream.answers);
      const { packet, grants } = filterAnswer(upstream, question.name, decision.ports);
      await this.grantOnce(client.slot, grants);
      this.remember(client.slot, question.name, grants);
      return reply(rcodeOf(upstream), packet.answers);
    } catch (err) {
      this.opts.log('warn', 'sandbox DNS query failed', { name: question.name, error: (err as Error).message });
      return reply(RCODE.SERVFAIL);
    }
  }

  /** The names a slot's answers gave `address` for (live ones): what the name check accepts there. */
  namesFor(slot: number, address: string): string[] {
    const now = Date.now();
    const names = this.answeredFor.get(slot)?.get(canonical(address));
    return names ? [...names].filter(([, until]) => until > now).map(([name]) => name) : [];
  }

  private remember(slot: number, qname: string, grants: DnsGrant[]): void {
    const mine = this.answeredFor.get(slot) ?? new Map<string, Map<string, number>>();
    const name = qname.toLowerCase().replace(/\.$/, '');
    const now = Date.now();
    for (const g of grants) {
      const address = canonical(g.address);
      const names = mine.get(address) ?? new Map<string, number>();
      for (const [n, until] of names) if (until <= now) names.delete(n);
      names.set(name, now + g.ttl * 1000);
      mine.set(address, names);
    }
    this.answeredFor.set(slot, mine);
  }

  private async grantOnce(slot: number, grants: DnsGrant[]): Promise<void> {
    const now = Date.now();
    const mine = this.granted.get(slot) ?? new Map<string, number>();
    const due = grants.filter((g) =>
      g.ports.some((p) => (mine.get(`${g.address}|${p}`) ?? 0) < now + Math.min(g.ttl * 1000, REFRESH_MARGIN_MS)),
    );
    if (due.length === 0) return;
    await this.opts.grant(slot, due);
    for (const g of due) for (const p of g.ports) mine.set(`${g.address}|${p}`, now + g.ttl * 1000);
    this.granted.set(slot, mine);
  }

  /** An upstream answer, from the cache while its records live. */
  private async resolve(question: NonNullable<Packet['questions']>[number]): Promise<Packet> {
    const key = `${question.name.toLowerCase()}|${question.type}|${question.class ?? 'IN'}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > now) return aged(hit.packet, Math.floor((now - hit.storedAt) / 1000));
    const packet = await this.ask(question);
    const ttls = (packet.answers ?? []).map((a) => ('ttl' in a ? (a.ttl ?? 0) : 0));
    if (rcodeOf(packet) === RCODE.NOERROR && ttls.length > 0) {
      if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.clear();
      const seconds = Math.min(Math.min(...ttls), MAX_CACHE_SECONDS);
      this.cache.set(key, { packet, storedAt: now, expiresAt: now + seconds * 1000 });
    }
    return packet;
  }

  private async ask(question: NonNullable<Packet['questions']>[number]): Promise<Packet> {
    if (this.opts.upstreams.length === 0) throw new Error('no upstream DNS resolver configured');
    let lastError: unknown;
    for (const upstream of this.opts.upstreams) {
      const id = randomInt(0, 65536);
      const query = dnsPacket.encode({
        id,
        type: 'query',
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [question],
      } as Packet);
      try {
        let packet = await udpExchange(upstream, query, id);
        if ((packet.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) packet = await tcpExchange(upstream, query, id);
        return packet;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

function rcodeOf(packet: Packet): number {
  return (packet.flags ?? 0) & 0xf;
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function aged(packet: Packet, seconds: number): Packet {
  return {
    ...packet,
    answers: (packet.answers ?? []).map((a) => ('ttl' in a ? { ...a, ttl: Math.max(0, (a.ttl ?? 0) - seconds) } : a)),
  } as Packet;
}

function bindUdp(): Promise<UdpSocket> {
  const attempt = (type: 'udp6' | 'udp4', host: string) =>
    new Promise<UdpSocket>((resolve, reject) => {
      const s = createSocket({ type, ipv6Only: false });
      s.once('error', reject);
      s.bind(0, host, () => {
        s.removeListener('error', reject);
        s.on('error', () => {}); // a bad datagram must not end the server
        resolve(s);
      });
    });
  // A host with IPv6 disabled still gets an IPv4 resolver.
  return attempt('udp6', '::').catch(() => attempt('udp4', '0.0.0.0'));
}

function matches(packet: Packet, id: number, query: Buffer): boolean {
  const asked = dnsPacket.decode(query).questions?.[0];
  const got = packet.questions?.[0];
  return packet.id === id && !!asked && !!got && got.name.toLowerCase() === asked.name.toLowerCase();
}

function udpExchange(upstream: DnsUpstream, query: Buffer, id: number): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const s = createSocket(isIP(upstream.host) === 6 ? 'udp6' : 'udp4');
    const done = (err?: Error, packet?: Packet) => {
      clearTimeout(timer);
      s.close();
      if (err) reject(err);
      else resolve(packet as Packet);
    };
    const timer = setTimeout(
      () => done(new Error(`no answer from ${upstream.host}:${upstream.port}`)),
      UPSTREAM_TIMEOUT_MS,
    );
    s.on('error', (err) => done(err));
    s.on('message', (msg, rinfo) => {
      if (rinfo.address !== upstream.host || rinfo.port !== upstream.port) return;
      try {
        const packet = dnsPacket.decode(msg);
        if (matches(packet, id, query)) done(undefined, packet);
      } catch {
        // Not a DNS answer: keep waiting for the real one.
      }
    });
    s.send(query, upstream.port, upstream.host);
  });
}

function tcpExchange(upstream: DnsUpstream, query: Buffer, id: number): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: upstream.host, port: upstream.port });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error('upstream TCP timeout')), UPSTREAM_TIMEOUT_MS);
    socket.on('connect', () => socket.write(Buffer.concat([lengthPrefix(query.length), query])));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      clearTimeout(timer);
      socket.destroy();
      try {
        const packet = dnsPacket.decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        if (matches(packet, id, query)) resolve(packet);
        else reject(new Error('upstream answered another question'));
      } catch (err) {
        reject(err);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
