/**
 * The nftables rules of one server, as `nft -f` scripts: one `inet` table owned by the server
 * (named from its state dir), base chains on the forward/input/output/nat hooks that dispatch
 * by host-side interface through verdict maps, and per sandbox an egress chain, an ingress
 * chain, a byte counter and the sets its resolver fills. Policy lives only on the host side of
 * each link, keyed by interface: nothing the sandbox's root does inside its namespace changes it.
 */
import { type NetworkPosture, parseCidrEntry } from '@mitos/protocol';
import { type NetworkIdentity, type SlotAddresses, v4BlockCidr, v6PrefixCidr } from './addressing.js';
import type { DnsGrant } from './dns-policy.js';

/** Cloud metadata services: never reachable, whatever the posture lists. */
export const METADATA_V4 = ['169.254.169.254', '100.100.100.200'];
export const METADATA_V6 = ['fd00:ec2::254'];

/** Not the internet: reachable only when listed in allow_cidrs. */
export const PRIVATE_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/3',
];
export const PRIVATE_V6 = [
  '::/127',
  '::ffff:0:0/96',
  '64:ff9b:1::/48',
  '100::/64',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

export interface ServicePorts {
  /** Where the server's resolver listens (sandbox DNS is redirected there). */
  dns?: number;
  /** Where the SNI-checking proxy listens (TLS to domain-allowed addresses goes there). */
  sni?: number;
}

export interface SandboxLink {
  slot: number;
  addresses: SlotAddresses;
  posture: NetworkPosture;
  generation: number;
}

const ND = 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert }';

/** The whole table, every live link included; atomic (the old table goes in the same commit). */
export function tableScript(id: NetworkIdentity, ports: ServicePorts, links: SandboxLink[]): string {
  const t = id.table;
  const lines = [
    `table inet ${t}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    '  set sandbox_ifs { type ifname; }',
    '  set links4 { type ifname . ipv4_addr; }',
    '  set links6 { type ifname . ipv6_addr; }',
    `  set metadata4 { type ipv4_addr; elements = { ${METADATA_V4.join(', ')} } }`,
    `  set metadata6 { type ipv6_addr; elements = { ${METADATA_V6.join(', ')} } }`,
    `  set private4 { type ipv4_addr; flags interval; elements = { ${PRIVATE_V4.join(', ')} } }`,
    `  set private6 { type ipv6_addr; flags interval; elements = { ${PRIVATE_V6.join(', ')} } }`,
    '  map egress_of { type ifname : verdict; }',
    '  map ingress_of { type ifname : verdict; }',
    '  map dnat_of { type ifname : verdict; }',
    '  chain forward { type filter hook forward priority filter - 5; policy accept;',
    '    iifname vmap @egress_of',
    '    oifname vmap @ingress_of',
    '  }',
    '  chain input { type filter hook input priority filter - 5; policy accept;',
    '    iifname @sandbox_ifs jump from_sandbox',
    // The resolver answers sandboxes only: nobody else (LAN, local users) may ask it.
    ...(ports.dns ? [`    meta l4proto { tcp, udp } th dport ${ports.dns} drop`] : []),
    ...(ports.sni ? [`    tcp dport ${ports.sni} drop`] : []),
    '  }',
    '  chain output { type filter hook output priority filter - 5; policy accept;',
    '    oifname vmap @ingress_of',
    '  }',
    '  chain from_sandbox {',
    `    ${ND} accept`,
    '    ct direction reply accept',
    // The resolver knows a sandbox by its source address: only its own passes.
    '    meta nfproto ipv4 iifname . ip saddr != @links4 drop',
    '    meta nfproto ipv6 iifname . ip6 saddr != @links6 drop',
    ...servicePortRules(ports),
    '    reject with icmpx admin-prohibited',
    '  }',
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept;',
    ...(ports.dns ? [`    iifname @sandbox_ifs meta l4proto { tcp, udp } th dport 53 redirect to :${ports.dns}`] : []),
    '    iifname vmap @dnat_of',
    '  }',
    '  chain postrouting { type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${v4BlockCidr(id)} oifname != @sandbox_ifs masquerade`,
    `    ip6 saddr ${v6PrefixCidr(id)} oifname != @sandbox_ifs masquerade`,
    '  }',
    '}',
  ];
  return [...lines, ...links.map((l) => linkScript(id, ports, l))].join('\n');
}

function servicePortRules(ports: ServicePorts): string[] {
  const out: string[] = [];
  if (ports.dns) out.push(`    meta l4proto { tcp, udp } th dport ${ports.dns} accept`);
  if (ports.sni) out.push(`    tcp dport ${ports.sni} accept`);
  return out;
}

/** Grant resolved addresses to one sandbox until their TTL runs out (refreshing an existing entry). */
export function grantScript(id: NetworkIdentity, slot: number, grants: DnsGrant[]): string {
  const t = `inet ${id.table}`;
  const lines: string[] = [];
  for (const g of grants) {
    for (const port of g.ports) {
      const set = `${t} dom${g.family}_${slot}`;
      const el = `${g.address} . ${port}`;
      // add-delete-add in one transaction: the entry exists afterwards with the new timeout.
      lines.push(`add element ${set} { ${el} }`, `delete element ${set} { ${el} }`);
      lines.push(`add element ${set} { ${el} timeout ${g.ttl}s }`);
    }
  }
  return lines.join('\n');
}

/** Add or replace one sandbox's chains, sets and map entries (re-runnable). */
export function linkScript(id: NetworkIdentity, ports: ServicePorts, link: SandboxLink): string {
  const t = `inet ${id.table}`;
  const n = link.slot;
  const ifname = JSON.stringify(link.addresses.hostIf);
  return [
    `add counter ${t} bytes_${n}`,
    `add set ${t} dom4_${n} { type ipv4_addr . inet_service; flags timeout; }`,
    `add set ${t} dom6_${n} { type ipv6_addr . inet_service; flags timeout; }`,
    // A changed posture starts from no resolved address: names it no longer lists open nothing.
    `flush set ${t} dom4_${n}`,
    `flush set ${t} dom6_${n}`,
    `add chain ${t} eg_${n}`,
    `flush chain ${t} eg_${n}`,
    ...egressRules(link).map((r) => `add rule ${t} eg_${n} ${r}`),
    `add chain ${t} in_${n}`,
    `flush chain ${t} in_${n}`,
    ...ingressRules(link).map((r) => `add rule ${t} in_${n} ${r}`),
    `add chain ${t} nat_${n}`,
    `flush chain ${t} nat_${n}`,
    // Every TCP connection to a resolved address goes through the name check (sni-proxy.ts).
    ...(ports.sni && checksNames(link.posture)
      ? [
          `add rule ${t} nat_${n} ip daddr . tcp dport @dom4_${n} redirect to :${ports.sni}`,
          `add rule ${t} nat_${n} ip6 daddr . tcp dport @dom6_${n} redirect to :${ports.sni}`,
        ]
      : []),
    `add element ${t} sandbox_ifs { ${ifname} }`,
    `add element ${t} links4 { ${ifname} . ${link.addresses.sandbox4} }`,
    `add element ${t} links6 { ${ifname} . ${link.addresses.sandbox6} }`,
    `add element ${t} egress_of { ${ifname} : jump eg_${n} }`,
    `add element ${t} ingress_of { ${ifname} : jump in_${n} }`,
    `add element ${t} dnat_of { ${ifname} : jump nat_${n} }`,
  ].join('\n');
}

/** Whether a posture's domain grants are checked by name (under egress allow, every name may go). */
export function checksNames(p: NetworkPosture): boolean {
  return Boolean(p.allow_domains?.length) && !p.block && p.egress !== 'allow';
}

/** Remove one sandbox's entries, chains and sets (fails if any is already gone). */
export function unlinkScript(id: NetworkIdentity, slot: number, a: SlotAddresses): string {
  const t = `inet ${id.table}`;
  const ifname = JSON.stringify(a.hostIf);
  return [
    `delete element ${t} links4 { ${ifname} . ${a.sandbox4} }`,
    `delete element ${t} links6 { ${ifname} . ${a.sandbox6} }`,
    `delete element ${t} egress_of { ${ifname} }`,
    `delete element ${t} ingress_of { ${ifname} }`,
    `delete element ${t} dnat_of { ${ifname} }`,
    `delete element ${t} sandbox_ifs { ${ifname} }`,
    `delete chain ${t} eg_${slot}`,
    `delete chain ${t} in_${slot}`,
    `delete chain ${t} nat_${slot}`,
    `delete set ${t} dom4_${slot}`,
    `delete set ${t} dom6_${slot}`,
    `delete counter ${t} bytes_${slot}`,
  ].join('\n');
}

function egressRules(link: SandboxLink): string[] {
  const { posture: p, addresses: a, generation: g, slot: n } = link;
  const ok = `ct mark set ${g} counter name bytes_${n} accept`;
  const rules = [`ip saddr != ${a.sandbox4} drop`, `ip6 saddr != ${a.sandbox6} drop`];
  if (p.block) return [...rules, 'drop'];
  rules.push(
    `ct direction reply counter name bytes_${n} accept`,
    `ct state established,related ct mark ${g} counter name bytes_${n} accept`,
    'ip daddr @metadata4 drop',
    'ip6 daddr @metadata6 drop',
    'oifname @sandbox_ifs drop',
  );
  for (const entry of p.allow_cidrs ?? []) {
    const c = parseCidrEntry(entry);
    if (!c) continue; // validated at the edge; a stored entry that no longer parses opens nothing
    const match = `${c.family === 4 ? 'ip' : 'ip6'} daddr ${c.address}/${c.prefix}`;
    rules.push(c.port === undefined ? `${match} ${ok}` : `${match} meta l4proto { tcp, udp } th dport ${c.port} ${ok}`);
  }
  // TCP only: a resolved address opens a connection that names its host (the proxy checks
  // the name); a UDP flow (QUIC included) names nothing the host can check.
  if (p.allow_domains?.length) {
    rules.push(`ip daddr . tcp dport @dom4_${n} ${ok}`, `ip6 daddr . tcp dport @dom6_${n} ${ok}`);
  }
  if (p.egress === 'allow') rules.push('ip daddr @private4 drop', 'ip6 daddr @private6 drop', ok);
  rules.push('reject with icmpx admin-prohibited');
  return rules;
}

function ingressRules(link: SandboxLink): string[] {
  const { posture: p, generation: g } = link;
  const rules = [`${ND} accept`];
  if (p.block) return [...rules, 'drop'];
  rules.push('ct direction reply accept', `ct state established,related ct mark ${g} accept`);
  if (p.inbound === 'allow') {
    const cidrs = p.inbound_cidrs ?? [];
    if (cidrs.length === 0) rules.push(`ct mark set ${g} accept`);
    for (const entry of cidrs) {
      const c = parseCidrEntry(entry);
      if (c) rules.push(`${c.family === 4 ? 'ip' : 'ip6'} saddr ${c.address}/${c.prefix} ct mark set ${g} accept`);
    }
  }
  rules.push('reject with icmpx admin-prohibited');
  return rules;
}
