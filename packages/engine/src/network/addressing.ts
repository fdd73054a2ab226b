/**
 * Names and addresses of one server's sandbox network, derived from its state directory so two
 * servers on one host never share an nftables table, an interface name or an address block.
 *
 * Each server gets a /22 inside 10.0.0.0/8 and a /48 inside fd00::/8 (IPv6 ULA). Slot n (1..511)
 * is one sandbox's point-to-point link: host 10.b.c.(2n), sandbox 10.b.c.(2n+1) as a /31; host
 * <ula>:n::1, sandbox <ula>:n::2 as a /64. Slot 0 is never given out: its sandbox-side address
 * is the resolver address every sandbox's resolv.conf names.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

export const SLOTS_PER_SERVER = 511;
const V4_BLOCKS = 1 << 14; // /22 blocks in 10.0.0.0/8
/** Blocks below this are left alone: 10.0.x.x is what home and office networks use first. */
const FIRST_V4_BLOCK = 64;

export interface NetworkIdentity {
  /** Six hex digits of the state directory's hash. */
  tag: string;
  table: string;
  /** Index of this server's /22 in 10.0.0.0/8. */
  v4Block: number;
  /** The /48 prefix without its length, e.g. `fd12:3456:789a`. */
  v6Prefix: string;
}

export function stateDirHash(stateDir: string): Buffer {
  return createHash('sha256').update(resolve(stateDir)).digest();
}

/** The identity for a state dir; `v4Block` is the first candidate (see v4BlockCandidates). */
export function networkIdentity(stateDir: string, v4Block?: number): NetworkIdentity {
  const h = stateDirHash(stateDir);
  const tag = h.subarray(0, 3).toString('hex');
  const hex = h.subarray(3, 8).toString('hex');
  return {
    tag,
    table: `mitos_${tag}`,
    v4Block: v4Block ?? v4BlockCandidates(stateDir)[0] ?? FIRST_V4_BLOCK,
    v6Prefix: `fd${hex.slice(0, 2)}:${hex.slice(2, 6)}:${hex.slice(6, 10)}`,
  };
}

/** Blocks to try in order (the hash's pick first), for skipping blocks the host already routes. */
export function v4BlockCandidates(stateDir: string, count = 64): number[] {
  const h = stateDirHash(stateDir);
  const span = V4_BLOCKS - FIRST_V4_BLOCK;
  const first = h.readUInt16BE(8) % span;
  return Array.from({ length: count }, (_, i) => FIRST_V4_BLOCK + ((first + i * 37) % span));
}

function v4(block: number, offset: number): string {
  const n = (10 << 24) + block * 1024 + offset;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function v4BlockCidr(id: NetworkIdentity): string {
  return `${v4(id.v4Block, 0)}/22`;
}

export function v6PrefixCidr(id: NetworkIdentity): string {
  return `${id.v6Prefix}::/48`;
}

/** The resolver address sandboxes send DNS to (redirected to the server's resolver). */
export function resolverAddress(id: NetworkIdentity): string {
  return v4(id.v4Block, 1);
}

export interface SlotAddresses {
  hostIf: string;
  /** Name of the sandbox end while it is still in the host namespace. */
  peerIf: string;
  host4: string;
  sandbox4: string;
  host6: string;
  sandbox6: string;
}

export function slotAddresses(id: NetworkIdentity, slot: number): SlotAddresses {
  const s = slot.toString(36);
  return {
    hostIf: `mx${id.tag}h${s}`,
    peerIf: `mx${id.tag}s${s}`,
    host4: v4(id.v4Block, 2 * slot),
    sandbox4: v4(id.v4Block, 2 * slot + 1),
    host6: `${id.v6Prefix}:${slot.toString(16)}::1`,
    sandbox6: `${id.v6Prefix}:${slot.toString(16)}::2`,
  };
}

/** Host-side interface names of this server all start with this. */
export function interfacePrefix(id: NetworkIdentity): string {
  return `mx${id.tag}h`;
}

/** The slot of a sandbox-side IPv4 address of this server, or undefined. */
export function slotOfAddress(id: NetworkIdentity, address: string): number | undefined {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  const parts = plain.split('.').map(Number);
  if (parts.length === 4 && parts.every((p) => Number.isInteger(p))) {
    const n =
      ((parts[0] as number) << 24) + ((parts[1] as number) << 16) + ((parts[2] as number) << 8) + (parts[3] as number);
    const offset = (n >>> 0) - (((10 << 24) + id.v4Block * 1024) >>> 0);
    if (offset < 2 || offset >= 1024 || offset % 2 !== 1) return undefined;
    return (offset - 1) / 2;
  }
  const lower = plain.toLowerCase();
  if (!lower.startsWith(`${id.v6Prefix}:`) || !lower.endsWith('::2')) return undefined;
  const slot = Number.parseInt(lower.slice(id.v6Prefix.length + 1, -3), 16);
  return Number.isInteger(slot) && slot >= 1 && slot <= SLOTS_PER_SERVER ? slot : undefined;
}
