/**
 * Workspaces: named, versioned /workspace trees kept by the server (`/v1/workspaces...`).
 * Create a sandbox with `workspace` (SandboxServer.fork) to hydrate the head into it; its
 * terminate commits a new revision. A workspace has one writer at a time (a second gets
 * `ConflictError` with code `workspace_busy`).
 * @module
 */
import type * as Protocol from '@mitos/protocol';
import type { RevisionRecord, WorkspaceRecord } from '@mitos/protocol';
import type { HttpClient } from './http.js';
import type { CallOptions } from './types.js';

const TIMEOUT_MS = 60_000;
/** A commit or checkout moves the whole tree through the sandbox's agent. */
const TREE_TIMEOUT_MS = 600_000;

export interface WorkspaceRetention {
  /** Keep at most this many revisions (0 = unlimited). */
  revisions?: number;
  /** Never prune a revision younger than this. */
  minAgeSeconds?: number;
}

export interface WorkspaceInfo {
  name: string;
  createdAt: Date;
  head: string | null;
  revisions: number;
  writer: string | null;
  retention: Required<WorkspaceRetention>;
  /**
   * How the last writer ended: terminated (any surface) and deadline commit first (`revision`,
   * null when nothing changed); a `lost` sandbox could not be read (`error.code` sandbox_lost).
   */
  lastWriter: {
    sandbox: string;
    reason: 'terminated' | 'deadline' | 'lost';
    revision: string | null;
    error: { code: string; message: string } | null;
    at: Date;
  } | null;
}

export interface Revision {
  id: string;
  workspace: string;
  /** sha256 of the revision's manifest: equal trees have equal digests. */
  digest: string;
  parent: string | null;
  source: 'commit' | 'fork' | 'revert';
  sandbox: string | null;
  message: string | null;
  createdAt: Date;
  files: number;
  bytes: number;
}

export interface WorkspaceDiff {
  revision: string;
  against: string | null;
  added: string[];
  removed: string[];
  modified: string[];
}

export interface CommitResult {
  /** null when nothing changed since the sandbox's base revision. */
  revision: Revision | null;
  /** Entries not captured (symlinks, devices, sockets, FIFOs). */
  skipped: string[];
}

let protocol: typeof Protocol | undefined;

/**
 * The schemas (zod) load with the first workspace call, not with the SDK: a command-line
 * client that never touches workspaces starts without them.
 */
async function loadSchemas(): Promise<typeof Protocol> {
  protocol ??= await import('@mitos/protocol');
  return protocol;
}

function schemas(): typeof Protocol {
  if (!protocol) throw new Error('workspace schemas used before the first workspace call loaded them');
  return protocol;
}

function toWorkspace(raw: unknown): WorkspaceInfo {
  const r: WorkspaceRecord = schemas().WorkspaceRecordSchema.parse(raw);
  return {
    name: r.name,
    createdAt: new Date(r.created_at),
    head: r.head,
    revisions: r.revisions,
    writer: r.writer,
    retention: { revisions: r.retention.revisions, minAgeSeconds: r.retention.min_age_seconds },
    lastWriter: r.last_writer && { ...r.last_writer, at: new Date(r.last_writer.at) },
  };
}

function toRevision(raw: unknown): Revision {
  const r: RevisionRecord = schemas().RevisionRecordSchema.parse(raw);
  const { created_at, ...rest } = r;
  return { ...rest, createdAt: new Date(created_at) };
}

function wireRetention(r: WorkspaceRetention): Record<string, number> {
  const out: Record<string, number> = {};
  if (r.revisions !== undefined) out.revisions = r.revisions;
  if (r.minAgeSeconds !== undefined) out.min_age_seconds = r.minAgeSeconds;
  return out;
}

/** `server.workspaces`: every workspace call of a SandboxServer. */
export class WorkspaceClient {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  async #call(
    method: string,
    path: string,
    opts: CallOptions,
    body?: unknown,
    timeoutMs = TIMEOUT_MS,
  ): Promise<unknown> {
    const [raw] = await Promise.all([
      this.#http.request(method, path, { body, timeoutMs: this.#http.timeoutOr(timeoutMs), signal: opts.signal }),
      loadSchemas(),
    ]);
    return raw;
  }

  #path(name: string, rest = ''): string {
    return `/v1/workspaces/${encodeURIComponent(name)}${rest}`;
  }

  /** @example await server.workspaces.create('notes', { retention: { revisions: 10 } }); */
  async create(name: string, opts: CallOptions & { retention?: WorkspaceRetention } = {}): Promise<WorkspaceInfo> {
    const body: Record<string, unknown> = { name };
    if (opts.retention) body.retention = wireRetention(opts.retention);
    return toWorkspace(await this.#call('POST', '/v1/workspaces', opts, body));
  }

  async list(opts: CallOptions = {}): Promise<WorkspaceInfo[]> {
    return ((await this.#call('GET', '/v1/workspaces', opts)) as unknown[]).map(toWorkspace);
  }

  async get(name: string, opts: CallOptions = {}): Promise<WorkspaceInfo> {
    return toWorkspace(await this.#call('GET', this.#path(name), opts));
  }

  /** Deletes the workspace and its revisions (refused while a sandbox writes it). */
  async delete(name: string, opts: CallOptions = {}): Promise<void> {
    await this.#call('DELETE', this.#path(name), opts);
  }

  async setRetention(name: string, retention: WorkspaceRetention, opts: CallOptions = {}): Promise<WorkspaceInfo> {
    return toWorkspace(
      await this.#call('POST', this.#path(name, '/retention'), opts, { retention: wireRetention(retention) }),
    );
  }

  /** Revisions, newest first. */
  async log(name: string, opts: CallOptions = {}): Promise<Revision[]> {
    // The call first: it is what loads the schemas.
    const raw = await this.#call('GET', this.#path(name, '/log'), opts);
    return schemas().WorkspaceLogSchema.parse(raw).map(toRevision);
  }

  /** What `revision` (default the head) added, removed and modified against `against` (default its parent). */
  async diff(name: string, opts: CallOptions & { revision?: string; against?: string } = {}): Promise<WorkspaceDiff> {
    const query = new URLSearchParams();
    if (opts.revision) query.set('revision', opts.revision);
    if (opts.against) query.set('against', opts.against);
    const q = query.size > 0 ? `?${query}` : '';
    const raw = await this.#call('GET', this.#path(name, `/diff${q}`), opts);
    return schemas().WorkspaceDiffSchema.parse(raw);
  }

  /** Commits the bound sandbox's /workspace now (it stays bound). */
  async commit(name: string, sandbox: string, opts: CallOptions & { message?: string } = {}): Promise<CommitResult> {
    const body: Record<string, unknown> = { sandbox };
    if (opts.message !== undefined) body.message = opts.message;
    const raw = await this.#call('POST', this.#path(name, '/commit'), opts, body, TREE_TIMEOUT_MS);
    const r = schemas().CommitResponseSchema.parse(raw);
    return { revision: r.revision && toRevision(r.revision), skipped: r.skipped };
  }

  /** A new workspace `into` whose first revision is `revision` (default the head) of `name`. */
  async fork(name: string, into: string, opts: CallOptions & { revision?: string } = {}): Promise<Revision> {
    const body: Record<string, unknown> = { workspace: into };
    if (opts.revision) body.revision = opts.revision;
    return toRevision(await this.#call('POST', this.#path(name, '/fork'), opts, body));
  }

  /** A new head with `revision`'s tree, whose parent is `revision`. */
  async revert(name: string, revision: string, opts: CallOptions = {}): Promise<Revision> {
    return toRevision(await this.#call('POST', this.#path(name, '/revert'), opts, { revision }));
  }

  /** Replaces a running sandbox's /workspace with `revision` (default the head). */
  async checkout(name: string, sandbox: string, opts: CallOptions & { revision?: string } = {}): Promise<Revision> {
    const body: Record<string, unknown> = { sandbox };
    if (opts.revision) body.revision = opts.revision;
    return toRevision(await this.#call('POST', this.#path(name, '/checkout'), opts, body, TREE_TIMEOUT_MS));
  }
}
