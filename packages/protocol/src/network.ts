/**
 * The network posture of a sandbox, written once: the entry grammars (CIDR with an optional
 * port, `host:port` domain patterns), their parsers, and the resolved posture every layer
 * shares. The wire keys are the seed's snake_case (wire-v1.md section 4.2).
 */
import { z } from 'zod';

const V4 = z.ipv4();
const V6 = z.ipv6();

/** 4, 6 or 0, like node's isIP (the protocol package also runs outside node). */
function ipFamily(text: string): 0 | 4 | 6 {
  if (V4.safeParse(text).success) return 4;
  if (V6.safeParse(text).success) return 6;
  return 0;
}

export type NetworkMode = 'deny' | 'allow';

/** A resolved posture: what a sandbox may reach, as stored and enforced. */
export const NetworkPostureSchema = z.object({
  egress: z.enum(['deny', 'allow']),
  inbound: z.enum(['deny', 'allow']),
  block: z.boolean().optional(),
  allow_domains: z.array(z.string()).optional(),
  allow_cidrs: z.array(z.string()).optional(),
  inbound_cidrs: z.array(z.string()).optional(),
});
export type NetworkPosture = z.infer<typeof NetworkPostureSchema>;

export const DENY_POSTURE: NetworkPosture = Object.freeze({ egress: 'deny', inbound: 'deny' }) as NetworkPosture;

export interface CidrEntry {
  family: 4 | 6;
  address: string;
  prefix: number;
  /** Absent: every port. */
  port?: number;
}

export interface DomainEntry {
  /** Lower case, no trailing dot; `*.example.com` keeps its `*.`. */
  pattern: string;
  port: number;
}

/** `address/prefix` or `address/prefix:port` (v4 and v6 alike: the port follows the prefix). */
export function parseCidrEntry(entry: string): CidrEntry | undefined {
  const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})(?::(\d{1,5}))?$/.exec(entry);
  if (!m) return undefined;
  const family = ipFamily(m[1] as string);
  if (family !== 4 && family !== 6) return undefined;
  const prefix = Number(m[2]);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  const out: CidrEntry = { family, address: m[1] as string, prefix };
  if (m[3] !== undefined) {
    const port = Number(m[3]);
    if (port < 1 || port > 65535) return undefined;
    out.port = port;
  }
  return out;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `host:port` or `*.host:port`; names are DNS names (letters, digits, hyphens). */
export function parseDomainEntry(entry: string): DomainEntry | undefined {
  const colon = entry.lastIndexOf(':');
  if (colon < 0) return undefined;
  const portText = entry.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return undefined;
  let name = entry.slice(0, colon).toLowerCase().replace(/\.$/, '');
  const wildcard = name.startsWith('*.');
  if (wildcard) name = name.slice(2);
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  if (ipFamily(name) !== 0) return undefined;
  return { pattern: wildcard ? `*.${name}` : name, port };
}

/** Whether a queried name is covered by a pattern (`*.a.b` covers `x.a.b` and `y.x.a.b`, not `a.b`). */
export function domainMatches(pattern: string, name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) return n.endsWith(pattern.slice(1));
  return n === pattern;
}

/** The wire body of a posture: every key optional, empties mean deny (wire-v1.md 4.2). */
export const NetworkRequestSchema = z
  .object({
    block: z.boolean().optional(),
    egress: z.enum(['deny', 'allow', '']).optional(),
    allow_domains: z.array(z.string()).optional(),
    allow_cidrs: z.array(z.string()).optional(),
    inbound: z.enum(['deny', 'allow', '']).optional(),
    inbound_cidrs: z.array(z.string()).optional(),
  })
  .loose()
  .superRefine((n, ctx) => {
    for (const key of ['allow_cidrs', 'inbound_cidrs'] as const) {
      (n[key] ?? []).forEach((entry, i) => {
        const parsed = parseCidrEntry(entry);
        if (!parsed || (key === 'inbound_cidrs' && parsed.port !== undefined)) {
          ctx.addIssue({
            code: 'custom',
            path: [key, i],
            message: `${JSON.stringify(entry.slice(0, 80))} is not a CIDR (address/prefix${key === 'allow_cidrs' ? '[:port]' : ''})`,
          });
        }
      });
    }
    (n.allow_domains ?? []).forEach((entry, i) => {
      if (!parseDomainEntry(entry)) {
        ctx.addIssue({
          code: 'custom',
          path: ['allow_domains', i],
          message: `${JSON.stringify(entry.slice(0, 80))} is not host:port (e.g. pypi.org:443 or *.example.com:443)`,
        });
      }
    });
  });
export type NetworkRequestBody = z.infer<typeof NetworkRequestSchema>;

/** Resolve a validated request into the posture (empty lists dropped, empty modes deny). */
export function postureFromRequest(request: NetworkRequestBody): NetworkPosture {
  const posture: NetworkPosture = {
    egress: request.egress === 'allow' ? 'allow' : 'deny',
    inbound: request.inbound === 'allow' ? 'allow' : 'deny',
  };
  if (request.block === true) posture.block = true;
  if (request.allow_domains?.length) posture.allow_domains = [...request.allow_domains];
  if (request.allow_cidrs?.length) posture.allow_cidrs = [...request.allow_cidrs];
  if (request.inbound_cidrs?.length) posture.inbound_cidrs = [...request.inbound_cidrs];
  return posture;
}

/** A posture that lets no packet in or out: no interface is needed at all. */
export function isClosedPosture(p: NetworkPosture): boolean {
  if (p.block) return true;
  return p.egress === 'deny' && p.inbound === 'deny' && !p.allow_domains?.length && !p.allow_cidrs?.length;
}
