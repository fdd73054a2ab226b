/**
 * Test-only: a DNS server for a fixed zone on a UDP socket the caller binds (loopback, or
 * inside the fake internet's namespace). It remembers every name it was asked, so a test can
 * show that a refused name never left the host.
 */
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket, { type Answer } from 'dns-packet';

/** A shell command for inside a sandbox: the addresses a name (its argument) resolves to, sorted, or ERR and the reason. */
export const RESOLVE_IN_SANDBOX = `python3 -c '
import socket, sys
try:
    print(" ".join(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 80, proto=socket.IPPROTO_TCP)})))
except Exception as e:
    print("ERR", type(e).__name__)
'`;

export type FakeZone = Record<string, Answer[]>;

export interface FakeDns {
  socket: Socket;
  /** Names asked so far, lower case. */
  asked: string[];
  close(): Promise<void>;
}

/** Serve `zone` on a new socket bound to host:port (port 0: any free one). */
export async function startFakeDns(zone: FakeZone, host = '127.0.0.1', port = 0): Promise<FakeDns> {
  const socket = createSocket('udp4');
  const asked: string[] = [];
  socket.on('message', (msg, rinfo) => {
    let query: ReturnType<typeof dnsPacket.decode>;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (!q) return;
    asked.push(q.name.toLowerCase());
    const records = zone[q.name.toLowerCase()];
    const answers = (records ?? []).filter((a) => a.type === q.type || a.type === 'CNAME');
    const out = dnsPacket.encode({
      id: query.id,
      type: 'response',
      // rcode NXDOMAIN (3) for a name outside the zone.
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (records ? 0 : 3),
      questions: [q],
      answers,
    });
    socket.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return { socket, asked, close: () => new Promise((r) => socket.close(() => r())) };
}
