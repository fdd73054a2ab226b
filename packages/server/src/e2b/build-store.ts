/**
 * E2B template builds (status, log entries, failure reason) in the state database, so the SDK's
 * status polling gets its answer from a restarted server. A build that was running when the
 * server stopped cannot finish (its steps ran in this process): reopening marks it failed and
 * says so, rather than leaving a client polling "building" forever.
 */
import type { Database } from 'better-sqlite3';

export interface BuildLogEntry {
  timestamp: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  step?: string;
}

export type BuildStatus = 'waiting' | 'building' | 'ready' | 'error';

export interface E2bBuild {
  id: string;
  templateId: string;
  owner: string;
  status: BuildStatus;
  resources: { cpu?: number; memory?: string };
  /** The tags the build is for (`default`: the template itself). */
  tags: string[];
  /** When it was asked for. */
  createdAt: Date;
  reason?: { message: string; step?: string };
}

/** Finished builds kept for status calls (older ones go with their logs). */
const KEPT_BUILDS = 200;
export const INTERRUPTED = 'the server stopped during this build; start the build again';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS e2b_builds (
  id TEXT PRIMARY KEY,
  template_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  status TEXT NOT NULL,
  resources TEXT NOT NULL,
  reason TEXT,
  tags TEXT,
  created_at INTEGER
);
CREATE TABLE IF NOT EXISTS e2b_build_logs (
  build_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (build_id, seq)
);`;

interface RawBuild {
  id: string;
  template_id: string;
  owner: string;
  status: BuildStatus;
  resources: string;
  reason: string | null;
  tags: string | null;
  created_at: number | null;
}

export class E2bBuilds {
  readonly #db: Database;
  readonly #insert;
  readonly #get;
  readonly #active;
  readonly #setStatus;
  readonly #log;
  readonly #logs;
  readonly #finished;
  readonly #ofTemplate;
  readonly #drop;
  readonly #dropLogs;

  constructor(db: Database) {
    this.#db = db;
    db.exec(SCHEMA);
    // Databases made before the columns existed get them (their builds were for `default`).
    const columns = db.prepare('PRAGMA table_info(e2b_builds)').all() as { name: string }[];
    for (const [column, type] of [
      ['tags', 'TEXT'],
      ['created_at', 'INTEGER'],
    ]) {
      if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE e2b_builds ADD COLUMN ${column} ${type}`);
    }
    this.#insert = db.prepare(
      'INSERT INTO e2b_builds (id, template_id, owner, status, resources, reason, tags, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)',
    );
    this.#get = db.prepare('SELECT * FROM e2b_builds WHERE id = ?');
    this.#active = db.prepare(
      "SELECT * FROM e2b_builds WHERE template_id = ? AND status IN ('waiting', 'building') LIMIT 1",
    );
    this.#setStatus = db.prepare('UPDATE e2b_builds SET status = ?, reason = ? WHERE id = ?');
    this.#log = db.prepare(
      'INSERT INTO e2b_build_logs (build_id, seq, entry) SELECT ?, coalesce(max(seq), -1) + 1, ? FROM e2b_build_logs WHERE build_id = ?',
    );
    this.#logs = db.prepare('SELECT entry FROM e2b_build_logs WHERE build_id = ? AND seq >= ? ORDER BY seq');
    this.#ofTemplate = db.prepare('SELECT * FROM e2b_builds WHERE template_id = ? ORDER BY rowid DESC');
    this.#finished = db.prepare("SELECT id FROM e2b_builds WHERE status IN ('ready', 'error') ORDER BY rowid DESC");
    this.#drop = db.prepare('DELETE FROM e2b_builds WHERE id = ?');
    this.#dropLogs = db.prepare('DELETE FROM e2b_build_logs WHERE build_id = ?');
    const interrupted = db.prepare("SELECT id FROM e2b_builds WHERE status = 'building'").all() as { id: string }[];
    for (const { id } of interrupted) this.finish(id, 'error', { message: INTERRUPTED });
  }

  create(build: Omit<E2bBuild, 'status' | 'reason' | 'createdAt'>): E2bBuild {
    const createdAt = new Date();
    this.#insert.run(
      build.id,
      build.templateId,
      build.owner,
      'waiting',
      JSON.stringify(build.resources),
      JSON.stringify(build.tags),
      createdAt.getTime(),
    );
    const finished = this.#finished.all() as { id: string }[];
    this.#db.transaction(() => {
      for (const { id } of finished.slice(KEPT_BUILDS)) {
        this.#dropLogs.run(id);
        this.#drop.run(id);
      }
    })();
    return { ...build, createdAt, status: 'waiting' };
  }

  /** The template's builds still kept, newest first. */
  ofTemplate(templateId: string): E2bBuild[] {
    return (this.#ofTemplate.all(templateId) as RawBuild[]).map(fromRaw);
  }

  get(id: string): E2bBuild | undefined {
    const raw = this.#get.get(id) as RawBuild | undefined;
    return raw && fromRaw(raw);
  }

  /** The template's build that is waiting or running, if any. */
  active(templateId: string): E2bBuild | undefined {
    const raw = this.#active.get(templateId) as RawBuild | undefined;
    return raw && fromRaw(raw);
  }

  start(id: string): void {
    this.#setStatus.run('building', null, id);
  }

  /** Ends a build; a failure's reason is also its last log entry. */
  finish(id: string, status: 'ready' | 'error', reason?: { message: string; step?: string }): void {
    this.#db.transaction(() => {
      this.#setStatus.run(status, reason ? JSON.stringify(reason) : null, id);
      if (reason) this.log(id, { timestamp: new Date().toISOString(), level: 'error', message: reason.message });
    })();
  }

  log(id: string, entry: BuildLogEntry): void {
    this.#log.run(id, JSON.stringify(entry), id);
  }

  logs(id: string, offset: number): BuildLogEntry[] {
    return (this.#logs.all(id, offset) as { entry: string }[]).map((r) => JSON.parse(r.entry) as BuildLogEntry);
  }
}

function fromRaw(raw: RawBuild): E2bBuild {
  return {
    id: raw.id,
    templateId: raw.template_id,
    owner: raw.owner,
    status: raw.status,
    resources: JSON.parse(raw.resources) as E2bBuild['resources'],
    tags: raw.tags === null ? ['default'] : (JSON.parse(raw.tags) as string[]),
    createdAt: new Date(raw.created_at ?? 0),
    ...(raw.reason !== null && { reason: JSON.parse(raw.reason) as E2bBuild['reason'] }),
  };
}
