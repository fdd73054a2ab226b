/**
 * Where a connection redirected to the SNI proxy was going. nftables' `redirect` rewrites the
 * destination to the host's own address; the kernel's connection tracking still holds the
 * original tuple. Node has no getsockopt(SO_ORIGINAL_DST), so the proxy reads the host's
 * conntrack table (/proc/net/nf_conntrack, the network namespace the server runs in).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';

export const CONNTRACK_TABLE = '/proc/net/nf_conntrack';

export function conntrackReadable(): boolean {
  return existsSync(CONNTRACK_TABLE);
}

export interface Destination {
  address: string;
  port: number;
}

/** The proxy's view of one accepted connection (Node's socket addresses). */
export interface AcceptedTuple {
  clientAddress: string;
  clientPort: number;
  proxyPort: number;
}

/**
 * The original destination of the tracked TCP connection from client:port that was
 * redirected to proxyPort, or undefined when conntrack holds no such entry.
 */
export function findOriginalDestination(table: string, tuple: AcceptedTuple): Destination | undefined {
  const client = canonical(tuple.clientAddress);
  for (const line of table.split('\n')) {
    if (!line.includes(' tcp ') || !line.includes(`sport=${tuple.clientPort} `)) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1] as string);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1] as string);
    const sport = [...line.matchAll(/\bsport=(\d+)/g)].map((m) => Number(m[1]));
    const dport = [...line.matchAll(/\bdport=(\d+)/g)].map((m) => Number(m[1]));
    // [0] is the original direction, [1] the reply (from the proxy back to the client).
    if (src.length < 2 || dst.length < 1 || sport.length < 2 || dport.length < 1) continue;
    if (canonical(src[0] as string) !== client || sport[0] !== tuple.clientPort) continue;
    if (sport[1] !== tuple.proxyPort) continue;
    return { address: canonical(dst[0] as string), port: dport[0] as number };
  }
  return undefined;
}

export async function originalDestination(tuple: AcceptedTuple): Promise<Destination | undefined> {
  return findOriginalDestination(await readFile(CONNTRACK_TABLE, 'utf8'), tuple);
}

/** One spelling per address: v4-mapped v6 as v4, v6 in full lower-case groups without zeros. */
export function canonical(address: string): string {
  const a = address.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  if (!isIPv6(a)) return a;
  const [head = '', tail] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':');
}
