/**
 * Wire records (snake_case) to SDK values (camelCase), checking only what the SDK needs
 * (wire-v1.md section 7): extra fields are ignored, missing optional ones tolerated.
 * @module
 */
import type { ExecResponse, FileEntryWire, NetworkRequest, ResourceLimitsRequest } from '@mitos/protocol';
import { invalidResponse } from './http.js';
import type {
  ExecResult,
  FileEntry,
  Network,
  ResourceLimits,
  SandboxDetails,
  SandboxInfo,
  TemplateInfo,
} from './types.js';

type Raw = Record<string, unknown>;

function obj(value: unknown, what: string): Raw {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Raw;
  throw invalidResponse(`expected a JSON object for ${what}, got ${JSON.stringify(value)?.slice(0, 200)}`);
}

function list(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw invalidResponse(`expected a JSON array for ${what}`);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export function toSandboxInfo(value: unknown, fallback?: { id: string; templateId: string }): SandboxInfo {
  const r = obj(value, 'a sandbox');
  const id = str(r.id) || fallback?.id;
  const templateId = str(r.template_id) || fallback?.templateId;
  if (!id || templateId === undefined) throw invalidResponse('a sandbox record lacks "id" or "template_id"');
  return {
    id,
    templateId,
    endpoint: str(r.endpoint) ?? '',
    createdAt: str(r.created_at),
    forkTimeMs: num(r.fork_time_ms) ?? 0,
    state: str(r.state),
    parentId: str(r.parent_id) || undefined,
  };
}

export function toSandboxList(value: unknown): SandboxInfo[] {
  return list(value, 'the sandbox list').map((r) => toSandboxInfo(r));
}

export function toTemplateInfo(value: unknown, fallbackId?: string): TemplateInfo {
  const r = obj(value ?? {}, 'a template');
  const id = str(r.id) || fallbackId;
  if (!id) throw invalidResponse('a template record lacks "id"');
  return {
    id,
    ready: r.ready === undefined ? true : r.ready === true,
    createdAt: str(r.created_at),
    creationTimeMs: num(r.creation_time_ms),
    image: str(r.image),
    ...(r.created === true && { created: true }),
  };
}

export function toTemplateList(value: unknown): TemplateInfo[] {
  return list(value, 'the template list').map((r) => toTemplateInfo(r));
}

export function toExecResult(value: unknown): ExecResult {
  const r = obj(value, 'an exec result') as Partial<Record<keyof ExecResponse, unknown>>;
  const exitCode = num(r.exit_code);
  if (exitCode === undefined) throw invalidResponse('the exec result lacks a numeric "exit_code"');
  return { exitCode, stdout: str(r.stdout) ?? '', stderr: str(r.stderr) ?? '', execTimeMs: num(r.exec_time_ms) ?? 0 };
}

export function toFileEntries(value: unknown): FileEntry[] {
  const r = obj(value, 'a file listing');
  // The seed reference answers `entries: null` for an empty directory.
  if (r.entries === null) return [];
  return list(r.entries, 'file entries').map((e) => {
    const f = obj(e, 'a file entry') as Partial<Record<keyof FileEntryWire, unknown>>;
    const name = str(f.name);
    if (name === undefined) throw invalidResponse('a file entry lacks "name"');
    return {
      name,
      isDir: f.is_dir === true,
      size: num(f.size) ?? 0,
      mode: num(f.mode) ?? 0,
      modifiedAt: toDate(f.modified_at),
    };
  });
}

/** The wire sends unix seconds; the TypeScript seed typed it as a string, so accept both. */
function toDate(value: unknown): Date | undefined {
  const d =
    typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

export function fileContent(value: unknown): string {
  const content = obj(value, 'a file read').content;
  if (typeof content !== 'string') throw invalidResponse('the file read result lacks "content"');
  return content;
}

export function toWireLimits(limits: ResourceLimits): ResourceLimitsRequest {
  const out: ResourceLimitsRequest = {};
  if (limits.memoryMb !== undefined) out.memory_mb = limits.memoryMb;
  if (limits.pids !== undefined) out.pids = limits.pids;
  if (limits.cpus !== undefined) out.cpus = limits.cpus;
  if (limits.diskMb !== undefined) out.disk_mb = limits.diskMb;
  return out;
}

/** Omit defaults, as the seed SDK's Network.to_dict does. */
export function toWireNetwork(net: Network): NetworkRequest {
  const out: NetworkRequest = {};
  if (net.block) out.block = true;
  if (net.egress && net.egress !== 'deny') out.egress = net.egress;
  if (net.allowDomains?.length) out.allow_domains = net.allowDomains;
  if (net.allowCidrs?.length) out.allow_cidrs = net.allowCidrs;
  if (net.inbound && net.inbound !== 'deny') out.inbound = net.inbound;
  if (net.inboundCidrs?.length) out.inbound_cidrs = net.inboundCidrs;
  return out;
}

/** The wire posture (`GET`/`PUT /v1/sandboxes/{id}/network`) as the SDK's Network. */
export function fromWireNetwork(value: unknown): Network {
  const r = obj(value, 'a network posture');
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : undefined);
  const out: Network = {
    egress: r.egress === 'allow' ? 'allow' : 'deny',
    inbound: r.inbound === 'allow' ? 'allow' : 'deny',
  };
  if (r.block === true) out.block = true;
  const domains = list(r.allow_domains);
  if (domains) out.allowDomains = domains;
  const cidrs = list(r.allow_cidrs);
  if (cidrs) out.allowCidrs = cidrs;
  const inbound = list(r.inbound_cidrs);
  if (inbound) out.inboundCidrs = inbound;
  return out;
}

/** `GET /v1/sandboxes/{id}`: the list record plus lineage and lifetime (api-extensions.md). */
export function toSandboxDetails(value: unknown, fallback?: { id: string; templateId: string }): SandboxDetails {
  const r = obj(value, 'a sandbox');
  const deadline = num(r.deadline_unix);
  return {
    ...toSandboxInfo(r, fallback),
    hostname: str(r.hostname),
    parentId: str(r.parent_id) || undefined,
    generation: num(r.generation),
    // 0 means "no deadline" on the wire.
    deadline: deadline ? new Date(deadline * 1000) : undefined,
    limits: limitsOf(r.limits),
    network: typeof r.network === 'object' && r.network !== null ? (r.network as Record<string, unknown>) : undefined,
    env: envOf(r.env),
  };
}

function envOf(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function limitsOf(value: unknown): ResourceLimits | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  return { memoryMb: num(r.memory_mb), pids: num(r.pids), cpus: num(r.cpus), diskMb: num(r.disk_mb) };
}
