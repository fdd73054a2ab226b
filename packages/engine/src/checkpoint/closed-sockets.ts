/**
 * What of a sandbox's networking a carried fork closes in its children. A child's network
 * namespace is restored empty (dump.ts `--empty-ns net`) and gets a link and address of its
 * own (the driver's attach), so an inet socket tied to the parent's address (a connection to
 * outside, or a bind to that address) has nothing to come back to, and its peer must not see
 * two copies of one connection. The checkpoint is rewritten once, before any child is restored:
 * each such socket comes back in its process as a fresh, unbound, unconnected socket (reads
 * fail with ENOTCONN, writes with EPIPE), the way a dropped connection looks, and the parent
 * keeps its own. Sockets on loopback or the wildcard address are carried as they are.
 *
 * The entries: files.img holds `file_entry { ... optional inet_sk_entry isk = 4; ... }`, and
 * `inet_sk_entry` has `ino = 2, family = 3, proto = 5, state = 6, src_port = 7, dst_port = 8,
 * repeated src_addr = 11, repeated dst_addr = 12` (each address word as the kernel keeps it,
 * like /proc/net's hex).
 */
import { procAddress } from './connections.js';
import { bytesField, type Field, fields, mapEntries, packedVarints, varintField } from './protobuf.js';

export interface ClosedSocket {
  inode: number;
  /** e.g. `tcp 10.0.0.2:41234 -> 203.0.113.10:80` */
  socket: string;
}

const ISK = 4;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const TCP_LISTEN = 10;
const TCP_CLOSE = 7;

function local(address: string): boolean {
  return /^127\./.test(address) || address === '0:0:0:0:0:0:0:1' || /^0:0:0:0:0:ffff:7f/.test(address);
}

function wildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '0:0:0:0:0:0:0:0';
}

/** Repeated uint32, plain or packed. */
function words(all: Field[], field: number): number[] {
  const out: number[] = [];
  for (const f of all) {
    if (f.field !== field) continue;
    if (f.wire === 0) out.push(f.value);
    else out.push(...packedVarints(f.bytes));
  }
  return out;
}

function address(all: Field[], field: number, port: number): { address: string; port: number } {
  const hex = words(all, field)
    .map((w) => w.toString(16).toUpperCase().padStart(8, '0'))
    .join('');
  return procAddress(`${hex || '00000000'}:${port.toString(16)}`);
}

/** Whether the socket is connected, and its text when a child with its own address cannot have it. */
function inspect(isk: Buffer): { connected: boolean; tied?: string } {
  const all = fields(isk);
  const get = (n: number) => all.find((f) => f.field === n && f.wire === 0)?.value ?? 0;
  const tcp = get(5) === IPPROTO_TCP;
  const from = address(all, 11, get(7));
  const to = address(all, 12, get(8));
  const connected = to.port !== 0 && !(tcp && get(6) === TCP_LISTEN);
  const tied = connected ? !local(to.address) || !local(from.address) : !wildcard(from.address) && !local(from.address);
  if (!tied) return { connected };
  const kind = `${tcp ? 'tcp' : 'udp'}${get(3) === AF_INET6 ? '6' : ''}`;
  return {
    connected,
    tied: `${kind} ${from.address}:${from.port}${connected ? ` -> ${to.address}:${to.port}` : ' (bound)'}`,
  };
}

/** The socket's text when a child with its own address cannot have it, else undefined. */
export function tiedSocket(isk: Buffer): string | undefined {
  return inspect(isk).tied;
}

/** The entry as a socket never bound or connected: closed, port 0, every address word 0. */
function closedEntry(isk: Buffer): Buffer {
  const out: Buffer[] = [];
  for (const f of fields(isk)) {
    if (f.field === 6) out.push(varintField(6, TCP_CLOSE));
    else if (f.field === 7 || f.field === 8) out.push(varintField(f.field, 0));
    else if ((f.field === 11 || f.field === 12) && f.wire === 0) out.push(varintField(f.field, 0));
    else if (f.field === 11 || f.field === 12) {
      out.push(bytesField(f.field, Buffer.alloc(packedVarints(f.bytes).length)));
    } else out.push(f.raw);
  }
  return Buffer.concat(out);
}

export interface RewrittenSockets {
  image: Buffer;
  closed: ClosedSocket[];
  /** A connection on loopback stays: its restore connects it again, which needs loopback up. */
  loopbackConnections: boolean;
}

/**
 * A copy of files.img with each tied inet socket closed (above), and the sockets closed.
 */
export function closeTiedSockets(filesImage: Buffer): RewrittenSockets {
  const closed: ClosedSocket[] = [];
  let loopbackConnections = false;
  const image = mapEntries(filesImage, (entry) => {
    const all = fields(entry);
    const isk = all.find((f) => f.field === ISK && f.wire === 2);
    const seen = isk && inspect(isk.bytes);
    if (seen?.connected && !seen.tied) loopbackConnections = true;
    const socket = seen?.tied;
    if (!isk || !socket) return entry;
    const inode = fields(isk.bytes).find((f) => f.field === 2 && f.wire === 0)?.value ?? 0;
    closed.push({ inode, socket });
    return Buffer.concat(all.map((f) => (f === isk ? bytesField(ISK, closedEntry(isk.bytes)) : f.raw)));
  });
  return { image, closed, loopbackConnections };
}
