/**
 * Resolution of a template's requested network posture (wire-v1.md section 4.2): absent means
 * deny both ways; empty modes mean deny; anything else than deny/allow, or a CIDR that does
 * not parse, is 400 invalid_json "invalid network config: ...".
 */
import { isIP } from 'node:net';
import { MitosError, type NetworkConfig, NetworkSchema } from '@mitos/protocol';
import { describeZodIssues } from './errors.js';

type Mode = 'deny' | 'allow';

/** Takes the raw `network` value so shape errors get the same "invalid network config" cause. */
export function resolveNetwork(raw: unknown): NetworkConfig {
  if (raw === undefined || raw === null) return { egress: 'deny', inbound: 'deny' };
  const parsed = NetworkSchema.safeParse(raw);
  if (!parsed.success) throw invalid(describeZodIssues(parsed.error.issues));
  const request = parsed.data;
  const config: NetworkConfig = { egress: mode(request.egress, 'egress'), inbound: mode(request.inbound, 'inbound') };
  if (request.block === true) config.block = true;
  const allowDomains = request.allow_domains ?? [];
  const allowCidrs = request.allow_cidrs ?? [];
  const inboundCidrs = request.inbound_cidrs ?? [];
  for (const cidr of allowCidrs) checkCidr(cidr, 'allow_cidrs');
  for (const cidr of inboundCidrs) checkCidr(cidr, 'inbound_cidrs');
  if (allowDomains.length > 0) config.allow_domains = allowDomains;
  if (allowCidrs.length > 0) config.allow_cidrs = allowCidrs;
  if (inboundCidrs.length > 0) config.inbound_cidrs = inboundCidrs;
  return config;
}

/**
 * The engine enforces only the two modes so far. Accepting an allowlist it would not apply
 * would hand the caller a posture other than the one asked for, so we refuse instead.
 */
export function assertEnforceable(config: NetworkConfig): void {
  const lists = (['allow_domains', 'allow_cidrs', 'inbound_cidrs'] as const).filter((k) => config[k] !== undefined);
  if (lists.length > 0) {
    throw new MitosError('not_implemented', `network ${lists.join(', ')} are not enforced by this server yet`);
  }
}

function mode(value: unknown, field: string): Mode {
  if (value === undefined || value === '' || value === 'deny') return 'deny';
  if (value === 'allow') return 'allow';
  throw invalid(`${field} must be "deny" or "allow"`);
}

function checkCidr(cidr: string, field: string): void {
  const slash = cidr.indexOf('/');
  const address = slash < 0 ? '' : cidr.slice(0, slash);
  const prefix = slash < 0 ? '' : cidr.slice(slash + 1);
  const family = isIP(address);
  const bits = family === 4 ? 32 : family === 6 ? 128 : 0;
  if (bits === 0 || !/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) {
    throw invalid(`${field}: ${JSON.stringify(cidr.slice(0, 64))} is not a CIDR (address/prefix)`);
  }
}

function invalid(detail: string): MitosError {
  return new MitosError('invalid_json', `invalid network config: ${detail}`);
}
