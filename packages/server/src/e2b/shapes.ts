/**
 * Control-plane records in the shapes of E2B's OpenAPI spec (Sandbox, SandboxDetail,
 * ListedSandbox, SandboxMetric). Field names are E2B's camelCase.
 */
import type { SandboxInfo } from '@mitos/engine';
import { type E2bContext, ENVD_VERSION } from './context.js';
import type { E2bSandboxRow } from './store.js';

const MIB = 1024 * 1024;

/** Where `getHost(port)` points: `<port>-<id>.<domain>`, served by our port proxy. */
export function domainFor(requestHost: string | undefined, configured: string | undefined): string {
  if (configured) return configured;
  const host = requestHost ?? 'localhost';
  const m = /^(.*?)(:\d+)?$/.exec(host) as RegExpExecArray;
  const name = m[1] ?? '';
  // An address cannot take a subdomain; *.localhost resolves to loopback in browsers and curl.
  const isAddress = /^[\d.]+$/.test(name) || name.startsWith('[') || name === 'localhost';
  return `${isAddress ? 'localhost' : name}${m[2] ?? ''}`;
}

export function sandboxRecord(ctx: E2bContext, row: E2bSandboxRow, domain: string) {
  return {
    templateID: row.template,
    sandboxID: row.id,
    alias: row.template,
    clientID: 'mitos',
    envdVersion: ENVD_VERSION,
    envdAccessToken: ctx.credentials.envdToken(row.id),
    trafficAccessToken: row.publicTraffic ? null : ctx.credentials.trafficToken(row.id),
    domain,
  };
}

/** `info.deadline`, where the caller read it with the row (describe), saves a second read. */
function common(ctx: E2bContext, row: E2bSandboxRow, info: SandboxInfo & { deadline?: Date | null }) {
  const deadline = info.deadline !== undefined ? info.deadline : ctx.engine.getDeadline(row.id);
  return {
    templateID: row.template,
    alias: row.template,
    sandboxID: row.id,
    clientID: 'mitos',
    startedAt: row.startedAt.toISOString(),
    // A paused sandbox has no deadline (E2B keeps paused sandboxes until resumed or killed).
    endAt: (deadline ?? row.startedAt).toISOString(),
    cpuCount: Math.max(1, Math.ceil(info.limits.cpus)),
    memoryMB: Math.round(info.limits.memoryBytes / MIB),
    diskSizeMB: Math.round((info.limits.diskBytes ?? 0) / MIB),
    metadata: row.metadata,
    state: info.state === 'paused' ? ('paused' as const) : ('running' as const),
    envdVersion: ENVD_VERSION,
  };
}

export function listedSandbox(ctx: E2bContext, row: E2bSandboxRow, info: SandboxInfo) {
  return { ...common(ctx, row, info), volumeMounts: [] };
}

export function sandboxDetail(
  ctx: E2bContext,
  row: E2bSandboxRow,
  info: SandboxInfo & { deadline?: Date | null },
  domain: string,
) {
  return {
    ...common(ctx, row, info),
    envdAccessToken: ctx.credentials.envdToken(row.id),
    allowInternetAccess: row.internet,
    domain,
    network: {
      allowPublicTraffic: row.publicTraffic,
      ...(row.egress.allowOut.length > 0 && { allowOut: row.egress.allowOut }),
      ...(row.egress.denyOut.length > 0 && { denyOut: row.egress.denyOut }),
    },
    volumeMounts: [],
  };
}

/**
 * One sample from the engine's usage; CPU is the average since start (the engine keeps no
 * history). The limits come from the usage call's own read of the sandbox.
 */
export async function sandboxMetric(ctx: E2bContext, row: E2bSandboxRow) {
  let found: SandboxInfo | undefined;
  const usage = await ctx.engine.usage(row.id, { onAccepted: (sandbox) => (found = sandbox) });
  const info = found as SandboxInfo;
  const now = Date.now();
  const cores = Math.max(info.limits.cpus, 0.01);
  const elapsedNs = Math.max(1, now - row.startedAt.getTime()) * 1e6;
  return {
    timestamp: new Date(now).toISOString(),
    timestampUnix: Math.floor(now / 1000),
    cpuCount: Math.max(1, Math.ceil(info.limits.cpus)),
    cpuUsedPct: Math.min(100, (usage.cpuNs / (elapsedNs * cores)) * 100),
    memUsed: usage.memory.cgroupBytes,
    memTotal: info.limits.memoryBytes,
    // Page cache is not separated by the engine's usage report; it is inside memUsed.
    memCache: 0,
    diskUsed: usage.disk?.exclusiveBytes ?? 0,
    diskTotal: info.limits.diskBytes ?? 0,
  };
}
