/**
 * Workspace and revision records in SQLite (the server's database): what exists, the parent
 * edges, the head, the single writer. Content lives in the BlobStore; a revision row names its
 * manifest by digest.
 */
import type Database from 'better-sqlite3';

export interface WorkspaceRow {
  name: string;
  created_at: number;
  next_seq: number;
  retention_revisions: number;
  retention_min_age_s: number;
  /** The writer sandbox and the revision it started from (its commits' parent). */
  writer: string | null;
  writer_base: string | null;
  /** JSON of the last writer's end (WriterEnd), null before any writer ended. */
  last_end: string | null;
}

/** How the last writer's binding ended: what it committed, or why nothing could be. */
export interface WriterEnd {
  sandbox: string;
  /** `terminated` by any surface, its `deadline`, or `lost` (its VM or process died). */
  reason: 'terminated' | 'deadline' | 'lost';
  /** The revision committed at the end; null when nothing changed or nothing could be. */
  revision: string | null;
  /** Why the end's commit failed (a stable code and its message); null when it did not. */
  error: { code: string; message: string } | null;
  at: number;
}

export interface RevisionRow {
  id: string;
  workspace: string;
  seq: number;
  digest: string;
  parent: string | null;
  source: 'commit' | 'fork' | 'revert';
  sandbox: string | null;
  message: string | null;
  created_at: number;
  files: number;
  bytes: number;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS workspaces (
     name TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     next_seq INTEGER NOT NULL,
     retention_revisions INTEGER NOT NULL,
     retention_min_age_s INTEGER NOT NULL,
     writer TEXT UNIQUE,
     writer_base TEXT,
     last_end TEXT
   )`,
  `CREATE TABLE IF NOT EXISTS workspace_revisions (
     id TEXT PRIMARY KEY,
     workspace TEXT NOT NULL,
     seq INTEGER NOT NULL,
     digest TEXT NOT NULL,
     parent TEXT,
     source TEXT NOT NULL,
     sandbox TEXT,
     message TEXT,
     created_at INTEGER NOT NULL,
     files INTEGER NOT NULL,
     bytes INTEGER NOT NULL
   )`,
  'CREATE INDEX IF NOT EXISTS workspace_revisions_by_workspace ON workspace_revisions (workspace, seq)',
];

export class WorkspaceCatalog {
  constructor(readonly db: Database.Database) {
    for (const statement of SCHEMA) db.exec(statement);
    // Databases made before writers' ends were recorded.
    const columns = db.prepare('PRAGMA table_info(workspaces)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'last_end')) db.exec('ALTER TABLE workspaces ADD COLUMN last_end TEXT');
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  get(name: string): WorkspaceRow | undefined {
    return this.db.prepare('SELECT * FROM workspaces WHERE name = ?').get(name) as WorkspaceRow | undefined;
  }

  list(): WorkspaceRow[] {
    return this.db.prepare('SELECT * FROM workspaces ORDER BY name').all() as WorkspaceRow[];
  }

  insert(row: WorkspaceRow): void {
    this.db
      .prepare(
        `INSERT INTO workspaces (name, created_at, next_seq, retention_revisions, retention_min_age_s, writer, writer_base)
         VALUES (@name, @created_at, @next_seq, @retention_revisions, @retention_min_age_s, @writer, @writer_base)`,
      )
      .run(row);
  }

  remove(name: string): void {
    this.db.prepare('DELETE FROM workspace_revisions WHERE workspace = ?').run(name);
    this.db.prepare('DELETE FROM workspaces WHERE name = ?').run(name);
  }

  setRetention(name: string, revisions: number, minAgeSeconds: number): void {
    this.db
      .prepare('UPDATE workspaces SET retention_revisions = ?, retention_min_age_s = ? WHERE name = ?')
      .run(revisions, minAgeSeconds, name);
  }

  setWriter(name: string, writer: string | null, base: string | null): void {
    this.db.prepare('UPDATE workspaces SET writer = ?, writer_base = ? WHERE name = ?').run(writer, base, name);
  }

  /** Ends `sandboxId`'s binding (if it still holds it) and records how. */
  endWriter(sandboxId: string, end: WriterEnd): void {
    this.db
      .prepare('UPDATE workspaces SET writer = NULL, writer_base = NULL, last_end = ? WHERE writer = ?')
      .run(JSON.stringify(end), sandboxId);
  }

  byWriter(sandboxId: string): WorkspaceRow | undefined {
    return this.db.prepare('SELECT * FROM workspaces WHERE writer = ?').get(sandboxId) as WorkspaceRow | undefined;
  }

  /** Reserves the next revision number of a workspace. */
  takeSeq(name: string): number {
    const row = this.db
      .prepare('UPDATE workspaces SET next_seq = next_seq + 1 WHERE name = ? RETURNING next_seq - 1 AS seq')
      .get(name) as { seq: number };
    return row.seq;
  }

  insertRevision(row: RevisionRow): void {
    this.db
      .prepare(
        `INSERT INTO workspace_revisions (id, workspace, seq, digest, parent, source, sandbox, message, created_at, files, bytes)
         VALUES (@id, @workspace, @seq, @digest, @parent, @source, @sandbox, @message, @created_at, @files, @bytes)`,
      )
      .run(row);
  }

  revision(id: string): RevisionRow | undefined {
    return this.db.prepare('SELECT * FROM workspace_revisions WHERE id = ?').get(id) as RevisionRow | undefined;
  }

  /** Newest first. */
  revisions(workspace: string): RevisionRow[] {
    return this.db
      .prepare('SELECT * FROM workspace_revisions WHERE workspace = ? ORDER BY seq DESC')
      .all(workspace) as RevisionRow[];
  }

  head(workspace: string): RevisionRow | undefined {
    return this.db
      .prepare('SELECT * FROM workspace_revisions WHERE workspace = ? ORDER BY seq DESC LIMIT 1')
      .get(workspace) as RevisionRow | undefined;
  }

  count(workspace: string): number {
    return (
      this.db.prepare('SELECT COUNT(*) AS n FROM workspace_revisions WHERE workspace = ?').get(workspace) as {
        n: number;
      }
    ).n;
  }

  deleteRevision(id: string): void {
    this.db.prepare('DELETE FROM workspace_revisions WHERE id = ?').run(id);
  }

  /** Manifest digests of every revision of every workspace (what garbage collection keeps). */
  liveManifests(): string[] {
    return (this.db.prepare('SELECT DISTINCT digest FROM workspace_revisions').all() as { digest: string }[]).map(
      (r) => r.digest,
    );
  }
}
