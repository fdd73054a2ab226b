/**
 * E2B's network fields onto a mitos posture, as E2B documents them:
 * - `allowInternetAccess: false` is `denyOut: ["0.0.0.0/0"]` (everything closed);
 * - `allowOut` holds addresses, CIDRs and domain names (`*.` wildcards), and wins over `denyOut`:
 *   addresses and CIDRs become allow_cidrs, names become allow_domains on ports 443 and 80
 *   (E2B filters names on exactly those two ports), answered by the server's resolver;
 * - `denyOut` holds addresses and CIDRs only: a name there is refused as E2B refuses it.
 * A `denyOut` narrower than everything while the internet is open is a blocklist; a mitos
 * posture has none, so it is refused (not_implemented) rather than dropped.
 */
import { MitosError, type NetworkPosture, parseCidrEntry, parseDomainEntry } from '@mitos/protocol';
import { z } from 'zod';
import { resolveNetwork } from '../network.js';

const EVERYTHING = new Set(['0.0.0.0/0', '::/0']);
const IP = z.union([z.ipv4(), z.ipv6()]);
/** The ports E2B matches a domain entry on: HTTP by Host, TLS by SNI. */
const DOMAIN_PORTS = [443, 80];

export interface E2bNetworkFields {
  internet?: boolean | null;
  allowOut?: string[];
  denyOut?: string[];
}

/** An address or CIDR as E2B writes it (no port), as a mitos CIDR entry; undefined otherwise. */
function asCidr(entry: string): string | undefined {
  if (IP.safeParse(entry).success) return `${entry}/${entry.includes(':') ? 128 : 32}`;
  const parsed = parseCidrEntry(entry);
  return parsed && parsed.port === undefined ? entry : undefined;
}

/** undefined: the request names no network rule (the template's posture applies). */
export function e2bPosture({ internet, allowOut = [], denyOut = [] }: E2bNetworkFields): NetworkPosture | undefined {
  if ((internet === undefined || internet === null) && allowOut.length === 0 && denyOut.length === 0) return undefined;
  const name = denyOut.find((d) => asCidr(d) === undefined);
  if (name !== undefined) {
    throw new MitosError(
      'invalid_request',
      `network.denyOut ${JSON.stringify(name.slice(0, 80))} is not an address or CIDR`,
      {},
      { remediation: 'denyOut takes addresses and CIDRs only; allow names in allowOut and deny 0.0.0.0/0' },
    );
  }
  const closed = internet === false || denyOut.some((d) => EVERYTHING.has(d));
  const egress = internet === true && !closed ? 'allow' : 'deny';
  const narrower = denyOut.filter((d) => !EVERYTHING.has(d));
  if (egress === 'allow' && narrower.length > 0) {
    throw new MitosError(
      'not_implemented',
      `network.denyOut ${JSON.stringify(narrower[0])} cannot be enforced while internet access is on`,
      {},
      { remediation: 'deny everything (denyOut: ["0.0.0.0/0"]) and list what is allowed in allowOut' },
    );
  }
  const allowCidrs: string[] = [];
  const allowDomains: string[] = [];
  for (const entry of allowOut) {
    const cidr = asCidr(entry);
    if (cidr !== undefined) {
      allowCidrs.push(cidr);
    } else if (parseDomainEntry(`${entry}:443`) !== undefined) {
      allowDomains.push(...DOMAIN_PORTS.map((port) => `${entry}:${port}`));
    } else {
      throw new MitosError(
        'invalid_request',
        `network.allowOut ${JSON.stringify(entry.slice(0, 80))} is not an address, CIDR or domain name`,
        {},
        { remediation: 'write names without a port or scheme (pypi.org, *.example.com)' },
      );
    }
  }
  return resolveNetwork({ egress, inbound: 'deny', allow_cidrs: allowCidrs, allow_domains: allowDomains });
}
