/**
 * E2B's network fields onto a mitos posture: `allow_internet_access` opens egress,
 * `denyOut: ["0.0.0.0/0"]` closes it, `allowOut` entries become allow_cidrs (addresses, CIDRs)
 * or allow_domains (names, ports 443 and 80). Narrower `denyOut` rules while the internet is
 * open have no mitos equivalent and are refused rather than dropped.
 */
import { MitosError, type NetworkPosture } from '@mitos/protocol';
import { z } from 'zod';
import { resolveNetwork } from '../network.js';

const EVERYTHING = new Set(['0.0.0.0/0', '::/0']);
const IP = z.union([z.ipv4(), z.ipv6()]);

export interface E2bNetworkFields {
  internet?: boolean | null;
  allowOut?: string[];
  denyOut?: string[];
}

/** undefined: the request names no network rule (the template's posture applies). */
export function e2bPosture({ internet, allowOut = [], denyOut = [] }: E2bNetworkFields): NetworkPosture | undefined {
  if ((internet === undefined || internet === null) && allowOut.length === 0 && denyOut.length === 0) return undefined;
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
    if (IP.safeParse(entry).success) allowCidrs.push(`${entry}/${entry.includes(':') ? 128 : 32}`);
    else if (entry.includes('/')) allowCidrs.push(entry);
    else allowDomains.push(`${entry}:443`, `${entry}:80`);
  }
  // Through the one validator, so a bad entry is a 400 naming it.
  return resolveNetwork({ egress, inbound: 'deny', allow_cidrs: allowCidrs, allow_domains: allowDomains });
}
