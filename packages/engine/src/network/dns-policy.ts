/**
 * What the server's resolver may tell one sandbox: which names it answers (the posture's
 * `allow_domains`, exact or `*.` wildcard; every name under `egress: allow`), and which of an
 * upstream answer's addresses become reachable, on which ports, for how long. Pure functions:
 * the resolver (resolver.ts) does the I/O, the host network programs the grants into nftables.
 */
import { BlockList } from 'node:net';
import { domainMatches, type NetworkPosture, parseDomainEntry } from '@mitos/protocol';
import type { Answer, Packet } from 'dns-packet';
import { METADATA_V4, METADATA_V6, PRIVATE_V4, PRIVATE_V6 } from './rules.js';

/** A resolved address a sandbox may now connect to, on these ports, for ttl seconds. */
export interface DnsGrant {
  family: 4 | 6;
  address: string;
  ports: number[];
  ttl: number;
}

export type DnsDecision =
  /** Not on the list: answered NXDOMAIN without asking upstream. */
  | { kind: 'refuse' }
  /** egress allow: forwarded as is (nftables already opens the internet and closes the rest). */
  | { kind: 'forward' }
  /** An allowed name: forwarded, its addresses granted on `ports`. */
  | { kind: 'grant'; ports: number[] };

/**
 * Set entries outlive short TTLs a little: clients (Java, Go, browsers) cache answers for
 * about 30 s whatever the record says, and a connection refused right after a fresh answer
 * would look like the policy's fault.
 */
export const MIN_GRANT_SECONDS = 30;
const MAX_GRANT_SECONDS = 86_400;

// One list per family: a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too,
// and PRIVATE_V6 holds ::ffff:0:0/96.
const NEVER_GRANTED = { 4: new BlockList(), 6: new BlockList() };
for (const [family, cidrs, singles] of [
  [4, PRIVATE_V4, METADATA_V4],
  [6, PRIVATE_V6, METADATA_V6],
] as const) {
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const cidr of cidrs) {
    const [net, len] = cidr.split('/');
    NEVER_GRANTED[family].addSubnet(net as string, Number(len), type);
  }
  for (const a of singles) NEVER_GRANTED[family].addAddress(a, type);
}

/**
 * Whether an answered address may be granted: a name that resolves to a private, loopback or
 * metadata address (DNS rebinding) opens nothing; list such addresses in allow_cidrs instead.
 */
export function grantable(address: string, family: 4 | 6): boolean {
  return !NEVER_GRANTED[family].check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export function decide(posture: NetworkPosture, qname: string): DnsDecision {
  if (posture.block) return { kind: 'refuse' };
  const ports = new Set<number>();
  for (const entry of posture.allow_domains ?? []) {
    const d = parseDomainEntry(entry);
    if (d && domainMatches(d.pattern, qname)) ports.add(d.port);
  }
  if (ports.size > 0) return { kind: 'grant', ports: [...ports].sort((a, b) => a - b) };
  return posture.egress === 'allow' ? { kind: 'forward' } : { kind: 'refuse' };
}

function lower(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * Keep of an upstream answer only what belongs to the asked name and its CNAME chain, drop
 * addresses that may never be granted (rebinding), and list the grants. Records about other
 * names (which a hostile upstream could slip in) are removed from the answer.
 */
export function filterAnswer(response: Packet, qname: string, ports: number[]): { packet: Packet; grants: DnsGrant[] } {
  const chain = new Set([lower(qname)]);
  const answers = response.answers ?? [];
  // CNAMEs may come in any order: follow them until the chain stops growing.
  for (let grew = true; grew; ) {
    grew = false;
    for (const a of answers) {
      if (a.type === 'CNAME' && chain.has(lower(a.name)) && !chain.has(lower(a.data))) {
        chain.add(lower(a.data));
        grew = true;
      }
    }
  }
  const kept: Answer[] = [];
  const grants: DnsGrant[] = [];
  for (const a of answers) {
    if (!chain.has(lower(a.name))) continue;
    if (a.type === 'A' || a.type === 'AAAA') {
      const family = a.type === 'A' ? 4 : 6;
      if (!grantable(a.data, family)) continue;
      const ttl = Math.min(Math.max(a.ttl ?? 0, MIN_GRANT_SECONDS), MAX_GRANT_SECONDS);
      grants.push({ family, address: a.data, ports, ttl });
    }
    kept.push(a);
  }
  return { packet: { ...response, answers: kept, authorities: [], additionals: [] }, grants };
}
