/**
 * Engine values to wire records (wire-v1.md sections 4.2, 4.4, 4.12). Pure functions: the
 * routes fetch, these shape.
 */
import type { FileKind, FileStat, SandboxInfo, TemplateInfo } from '@mitos/engine';
import {
  type FileEntryWire,
  forkCarriedToWire,
  GO_MODE_DIR,
  GO_MODE_SYMLINK,
  type NetworkConfig,
  type SandboxRecord,
  type TemplateRecord,
} from '@mitos/protocol';

/** Reported when a driver measured 0 on a coarse clock: the seed SDK requires fork_time_ms > 0. */
export const MIN_FORK_TIME_MS = 0.001;

export function toTemplateRecord(template: TemplateInfo): TemplateRecord {
  return {
    id: template.id,
    ready: template.ready,
    created_at: template.createdAt.toISOString(),
    creation_time_ms: template.creationTimeMs,
    network: template.network,
    image: template.image,
  };
}

export interface SandboxRecordInput {
  sandbox: SandboxInfo;
  /** Its template, for the inherited network posture; undefined if the template is gone. */
  template: TemplateInfo | undefined;
  endpoint: string;
  /** The sandbox's effective posture (its own, else its template's). */
  network?: NetworkConfig;
}

export function toSandboxRecord({ sandbox, template, endpoint, network }: SandboxRecordInput): SandboxRecord {
  return {
    id: sandbox.id,
    template_id: sandbox.templateId,
    endpoint,
    created_at: sandbox.createdAt.toISOString(),
    fork_time_ms: sandbox.forkTimeMs > 0 ? sandbox.forkTimeMs : MIN_FORK_TIME_MS,
    network: crdNetwork(network ?? template?.network ?? { egress: 'deny', inbound: 'deny' }),
    state: sandbox.state,
    hostname: sandbox.hostname,
    parent_id: sandbox.parentId,
    generation: sandbox.generation,
    ...(sandbox.forkCarried ? { carried: forkCarriedToWire(sandbox.forkCarried) } : {}),
  };
}

/** GET /v1/sandboxes/{id}: the record plus its lifetime deadline (0 = none). */
export type SandboxDetail = SandboxRecord & { deadline_unix: number };

export function toSandboxDetail(input: SandboxRecordInput, deadline: Date | null): SandboxDetail {
  return { ...toSandboxRecord(input), deadline_unix: deadline === null ? 0 : Math.floor(deadline.getTime() / 1000) };
}

/** Fork records name the posture with the CRD NetworkPolicy's camelCase keys (section 4.4). */
function crdNetwork(network: NetworkConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { egress: network.egress, inbound: network.inbound };
  if (network.block) out.blockNetwork = true;
  if (network.allow_domains?.length) out.allow = network.allow_domains;
  if (network.allow_cidrs?.length) out.allowCidrs = network.allow_cidrs;
  if (network.inbound_cidrs?.length) out.inboundCidrs = network.inbound_cidrs;
  return out;
}

// Go's os.FileMode keeps type and special bits above the permission bits (wire-v1.md 4.12).
const GO_MODE_SETUID = 2 ** 23;
const GO_MODE_SETGID = 2 ** 22;
const GO_MODE_STICKY = 2 ** 20;
/** Go's ModeIrregular: "a non-regular file; nothing else is known", our `other`. */
const GO_MODE_IRREGULAR = 2 ** 19;

const TYPE_BITS: Record<FileKind, number> = {
  file: 0,
  dir: GO_MODE_DIR,
  symlink: GO_MODE_SYMLINK,
  other: GO_MODE_IRREGULAR,
};

/** POSIX permission bits and kind to a Go FileMode integer. Arithmetic, not `|`: bit 31 overflows int32. */
export function goFileMode(kind: FileKind, mode: number): number {
  let out = TYPE_BITS[kind] + (mode & 0o777);
  if (mode & 0o4000) out += GO_MODE_SETUID;
  if (mode & 0o2000) out += GO_MODE_SETGID;
  if (mode & 0o1000) out += GO_MODE_STICKY;
  return out;
}

export function toFileEntry(stat: FileStat): FileEntryWire {
  return {
    name: stat.name,
    is_dir: stat.kind === 'dir',
    size: stat.size,
    mode: goFileMode(stat.kind, stat.mode),
    modified_at: Math.floor(stat.mtimeMs / 1000),
  };
}
