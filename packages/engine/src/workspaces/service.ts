/**
 * Workspaces on one server: named, versioned /workspace trees. A revision is immutable (a
 * manifest digest and a parent edge); a workspace has at most one writer sandbox, which
 * hydrates the head when bound and commits a new revision on terminate or on request.
 */
import { MitosError, WORKSPACE_NAME_PATTERN } from '@mitos/protocol';
import type Database from 'better-sqlite3';
import type { Engine } from '../engine.js';
import type { BlobStore } from './blob-store.js';
import { type RevisionRow, WorkspaceCatalog, type WorkspaceRow } from './catalog.js';
import { collectGarbage, Pins } from './gc.js';
import { decodeManifest, diffManifests, encodeManifest, type Manifest, sha256, type TreeDiff } from './manifest.js';
import { pruneCandidates } from './retention.js';
import { captureTree, clearTree, DEFAULT_TREE_LIMITS, hydrateTree, type StatCache, type TreeLimits } from './tree.js';

export interface WorkspacesOptions {
  engine: Engine;
  db: Database.Database;
  store: BlobStore;
  limits?: Partial<TreeLimits>;
  now?: () => number;
}

export interface Retention {
  revisions: number;
  minAgeSeconds: number;
}

export interface CommitResult {
  revision: RevisionRow | null;
  skipped: string[];
}

export class Workspaces {
  readonly catalog: WorkspaceCatalog;
  readonly store: BlobStore;
  private readonly engine: Engine;
  private readonly limits: TreeLimits;
  private readonly now: () => number;
  private readonly caches = new Map<string, StatCache>();
  private readonly pins = new Pins();
  /** Writers claimed whose sandbox is still being created (not yet known to the engine). */
  private readonly pending = new Set<string>();
  /** Operations per workspace run one at a time (commit, checkout, revert, prune). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: WorkspacesOptions) {
    this.engine = options.engine;
    this.store = options.store;
    this.catalog = new WorkspaceCatalog(options.db);
    this.limits = { ...DEFAULT_TREE_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
  }

  create(name: string, retention: Partial<Retention> = {}): WorkspaceRow {
    requireWorkspaceName(name);
    if (this.catalog.get(name))
      throw new MitosError('conflict', `workspace "${name}" already exists`, { workspace: name });
    const row: WorkspaceRow = {
      name,
      created_at: this.now(),
      next_seq: 1,
      retention_revisions: retention.revisions ?? 0,
      retention_min_age_s: retention.minAgeSeconds ?? 0,
      writer: null,
      writer_base: null,
      last_end: null,
    };
    this.catalog.insert(row);
    return row;
  }

  get(name: string): WorkspaceRow {
    const row = this.catalog.get(name);
    if (!row) {
      throw new MitosError(
        'not_found',
        `workspace "${name}" not found`,
        { workspace: name },
        {
          remediation: 'list workspaces with GET /v1/workspaces (or `mitos workspace ls`), or create it',
        },
      );
    }
    return row;
  }

  list(): WorkspaceRow[] {
    return this.catalog.list();
  }

  head(name: string): RevisionRow | undefined {
    return this.catalog.head(this.get(name).name);
  }

  log(name: string): RevisionRow[] {
    return this.catalog.revisions(this.get(name).name);
  }

  revision(name: string, id: string): RevisionRow {
    const row = this.catalog.revision(id);
    if (!row || row.workspace !== name) {
      throw new MitosError('not_found', `revision "${id}" not found in workspace "${name}"`, {
        workspace: name,
        revision: id,
      });
    }
    return row;
  }

  async remove(name: string): Promise<void> {
    await this.serial(name, async () => {
      const ws = this.get(name);
      if (ws.writer !== null) throw busy(ws);
      this.catalog.remove(name);
    });
    await this.collectGarbage();
  }

  async setRetention(name: string, retention: Partial<Retention>): Promise<WorkspaceRow> {
    const ws = this.get(name);
    this.catalog.setRetention(
      name,
      retention.revisions ?? ws.retention_revisions,
      retention.minAgeSeconds ?? ws.retention_min_age_s,
    );
    await this.prune(name);
    return this.get(name);
  }

  async manifest(revision: RevisionRow): Promise<Manifest> {
    return decodeManifest(await this.store.get(revision.digest));
  }

  /** `revision` (default head) against `against` (default its parent; the empty tree for a root). */
  async diff(
    name: string,
    revisionId?: string,
    againstId?: string,
  ): Promise<TreeDiff & { revision: string; against: string | null }> {
    const revision = revisionId === undefined ? this.head(name) : this.revision(name, revisionId);
    if (!revision) throw new MitosError('not_found', `workspace "${name}" has no revisions yet`, { workspace: name });
    const againstRow =
      againstId !== undefined
        ? this.anyRevision(againstId)
        : revision.parent
          ? this.catalog.revision(revision.parent)
          : undefined;
    const base = againstRow ? await this.manifest(againstRow) : undefined;
    return {
      revision: revision.id,
      against: againstRow?.id ?? null,
      ...diffManifests(base, await this.manifest(revision)),
    };
  }

  private anyRevision(id: string): RevisionRow {
    const row = this.catalog.revision(id);
    if (!row) throw new MitosError('not_found', `revision "${id}" not found`, { revision: id });
    return row;
  }

  /**
   * Makes `sandboxId` the workspace's single writer; a workspace with another live writer is
   * workspace_busy. Call `hydrate` once the sandbox runs, or `release` if it never will.
   */
  claim(name: string, sandboxId: string): WorkspaceRow {
    return this.catalog.transaction(() => {
      const ws = this.get(name);
      if (ws.writer !== null && ws.writer !== sandboxId) {
        const writer = this.engine.get(ws.writer);
        if (this.pending.has(ws.writer) || (writer && writer.state !== 'terminated')) throw busy(ws);
      }
      const head = this.catalog.head(name);
      this.catalog.setWriter(name, sandboxId, head?.id ?? null);
      this.pending.add(sandboxId);
      return this.get(name);
    });
  }

  /** Writes the writer's base revision (the head when claimed) into its /workspace. */
  async hydrate(name: string, sandboxId: string): Promise<RevisionRow | undefined> {
    try {
      return await this.hydrateWriter(name, sandboxId);
    } finally {
      this.pending.delete(sandboxId);
    }
  }

  private async hydrateWriter(name: string, sandboxId: string): Promise<RevisionRow | undefined> {
    const ws = this.requireWriter(name, sandboxId);
    const base = ws.writer_base ? this.catalog.revision(ws.writer_base) : undefined;
    if (!base) {
      await this.engine.files.mkdir(sandboxId, '/workspace');
      this.caches.delete(sandboxId);
      return undefined;
    }
    this.caches.set(sandboxId, await hydrateTree(this.engine.files, sandboxId, this.store, await this.manifest(base)));
    return base;
  }

  /** The workspace `sandboxId` writes, if any. */
  boundTo(sandboxId: string): WorkspaceRow | undefined {
    return this.catalog.byWriter(sandboxId);
  }

  /** Ends a binding without committing (the sandbox is gone, or never started). */
  release(sandboxId: string): void {
    const ws = this.catalog.byWriter(sandboxId);
    if (ws) this.catalog.setWriter(ws.name, null, null);
    this.caches.delete(sandboxId);
    this.pending.delete(sandboxId);
  }

  /** Captures the writer's /workspace as a new revision; null when nothing changed since its base. */
  commit(name: string, sandboxId: string, message?: string): Promise<CommitResult> {
    return this.serial(name, async () => {
      const ws = this.requireWriter(name, sandboxId);
      const unpins: Array<() => void> = [];
      const pin = (digest: string) => unpins.push(this.pins.add([digest]));
      try {
        const captured = await captureTree(
          this.engine.files,
          sandboxId,
          this.store,
          this.limits,
          this.caches.get(sandboxId),
          pin,
        );
        const manifestBytes = encodeManifest(captured.manifest);
        pin(sha256(manifestBytes));
        const manifestDigest = await this.store.put(manifestBytes);
        this.caches.set(sandboxId, captured.cache);
        const base = ws.writer_base ? this.catalog.revision(ws.writer_base) : undefined;
        if (base && base.digest === manifestDigest) return { revision: null, skipped: captured.skipped };
        const revision = this.catalog.transaction(() => {
          const row = this.newRevision(name, {
            digest: manifestDigest,
            parent: base?.id ?? null,
            source: 'commit',
            sandbox: sandboxId,
            message: message ?? null,
            files: captured.manifest.entries.filter((e) => e.kind === 'file').length,
            bytes: captured.bytes,
          });
          this.catalog.setWriter(name, sandboxId, row.id);
          return row;
        });
        await this.pruneNow(name);
        return { revision, skipped: captured.skipped };
      } finally {
        for (const unpin of unpins) unpin();
      }
    }).catch(async (err) => {
      // A failed capture may have stored objects no revision names: drop them.
      await this.collectGarbage();
      throw err;
    });
  }

  /** A new workspace whose first revision is `revisionId` (default head) of `name`. */
  fork(name: string, newName: string, revisionId?: string): RevisionRow {
    requireWorkspaceName(newName);
    return this.catalog.transaction(() => {
      const parent = revisionId === undefined ? this.head(name) : this.revision(name, revisionId);
      if (!parent)
        throw new MitosError('not_found', `workspace "${name}" has no revisions to fork`, { workspace: name });
      this.create(newName, this.retentionOf(this.get(name)));
      return this.newRevision(newName, { ...copyOf(parent), parent: parent.id, source: 'fork' });
    });
  }

  /** A new head with `revisionId`'s tree whose parent is `revisionId`. Refused while a writer is bound. */
  revert(name: string, revisionId: string): Promise<RevisionRow> {
    return this.serial(name, async () => {
      const row = this.catalog.transaction(() => {
        const ws = this.get(name);
        if (ws.writer !== null) throw busy(ws);
        const target = this.revision(name, revisionId);
        return this.newRevision(name, { ...copyOf(target), parent: target.id, source: 'revert' });
      });
      await this.pruneNow(name);
      return row;
    });
  }

  /**
   * Replaces a running sandbox's /workspace with `revisionId` (default head). When the sandbox
   * is the writer, its next commit's parent is that revision.
   */
  checkout(name: string, sandboxId: string, revisionId?: string): Promise<RevisionRow> {
    return this.serial(name, async () => {
      const ws = this.get(name);
      if (ws.writer !== null && ws.writer !== sandboxId) throw busy(ws);
      const target = revisionId === undefined ? this.catalog.head(name) : this.revision(name, revisionId);
      if (!target) throw new MitosError('not_found', `workspace "${name}" has no revisions yet`, { workspace: name });
      const sandbox = this.engine.get(sandboxId);
      if (!sandbox) throw new MitosError('not_found', `sandbox "${sandboxId}" not found`, { sandbox: sandboxId });
      await clearTree(this.engine.files, sandboxId);
      const cache = await hydrateTree(this.engine.files, sandboxId, this.store, await this.manifest(target));
      if (ws.writer === sandboxId) {
        this.catalog.setWriter(name, sandboxId, target.id);
        this.caches.set(sandboxId, cache);
      }
      return target;
    });
  }

  prune(name: string): Promise<void> {
    return this.serial(name, () => this.pruneNow(name));
  }

  private async pruneNow(name: string): Promise<void> {
    const ws = this.get(name);
    const doomed = pruneCandidates(this.catalog.revisions(name), {
      keep: ws.retention_revisions,
      minAgeMs: ws.retention_min_age_s * 1000,
      now: this.now(),
      protect: [ws.writer_base],
    });
    if (doomed.length === 0) return;
    this.catalog.transaction(() => {
      for (const id of doomed) this.catalog.deleteRevision(id);
    });
    await this.collectGarbage();
  }

  /** Removes objects no revision of any workspace needs. */
  async collectGarbage(): Promise<number> {
    return collectGarbage(this.store, this.catalog, this.pins);
  }

  private newRevision(
    workspace: string,
    fields: Omit<RevisionRow, 'id' | 'workspace' | 'seq' | 'created_at'>,
  ): RevisionRow {
    const seq = this.catalog.takeSeq(workspace);
    const row: RevisionRow = { id: `${workspace}-${seq}`, workspace, seq, created_at: this.now(), ...fields };
    this.catalog.insertRevision(row);
    return row;
  }

  private retentionOf(ws: WorkspaceRow): Retention {
    return { revisions: ws.retention_revisions, minAgeSeconds: ws.retention_min_age_s };
  }

  private requireWriter(name: string, sandboxId: string): WorkspaceRow {
    const ws = this.get(name);
    if (ws.writer === sandboxId) return ws;
    if (ws.writer !== null) throw busy(ws);
    throw new MitosError(
      'invalid_request',
      `sandbox "${sandboxId}" is not bound to workspace "${name}"`,
      {
        workspace: name,
        sandbox: sandboxId,
      },
      { remediation: 'create the sandbox with `workspace` set (POST /v1/fork), then commit from it' },
    );
  }

  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(fn);
    const tail = run.catch(() => {});
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    return run;
  }
}

function copyOf(row: RevisionRow): Pick<RevisionRow, 'digest' | 'files' | 'bytes' | 'sandbox' | 'message'> {
  return { digest: row.digest, files: row.files, bytes: row.bytes, sandbox: null, message: null };
}

function busy(ws: WorkspaceRow): MitosError {
  return new MitosError('workspace_busy', `workspace "${ws.name}" is bound to sandbox "${ws.writer}"`, {
    workspace: ws.name,
    writer: ws.writer ?? '',
    reason: 'WorkspaceBusy',
  });
}

export function requireWorkspaceName(name: string): string {
  if (!WORKSPACE_NAME_PATTERN.test(name)) {
    throw new MitosError(
      'invalid_request',
      `workspace name ${JSON.stringify(name.slice(0, 80))} is invalid`,
      {
        field: 'name',
      },
      { remediation: `use lowercase letters, digits and '-' (${WORKSPACE_NAME_PATTERN.source})` },
    );
  }
  return name;
}
