/** Typed access to the engine's tables. */
import type { Statement } from 'better-sqlite3';
import type { ForkCarried, ResourceLimits, SandboxInfo, SandboxState, TemplateInfo } from '../engine.js';
import type { StateDatabase } from './database.js';
import type { TemplateConfig } from './template-config.js';

export interface TemplateRow extends TemplateInfo {
  imageKey: string;
  /** Templates built from a spec: what every sandbox of it runs with (absent for built-ins). */
  config?: TemplateConfig;
}

export interface SandboxRow extends SandboxInfo {
  initPid: number | null;
  initStartTicks: string | null;
  supervisorPid: number | null;
  /** Name of the sandbox's cgroups; its launch id, kept when a pooled sandbox is handed out. */
  cgroupKey: string;
  /** When it ends by its deadline (ms since the epoch); absent on a row not read from the store. */
  deadlineMs?: number | null;
}

interface RawTemplate {
  id: string;
  image: string;
  image_key: string;
  created_at: string;
  creation_time_ms: number;
  network: string;
  limits: string;
  config: string | null;
}

interface RawSandbox {
  id: string;
  template_id: string;
  state: string;
  created_at: string;
  fork_time_ms: number;
  hostname: string;
  limits: string;
  parent_id: string | null;
  generation: number;
  init_pid: number | null;
  init_start_ticks: string | null;
  supervisor_pid: number | null;
  cgroup_key: string | null;
  fork_carried: string | null;
  env: string | null;
  deadline_ms: number | null;
}

export class StateStore {
  /** Compiled once per SQL text: every API request reads a row, and compiling costs more than the read. */
  readonly #statements = new Map<string, Statement>();

  constructor(readonly db: StateDatabase) {}

  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  templates(): TemplateRow[] {
    return (this.db.prepare('SELECT * FROM templates ORDER BY id').all() as RawTemplate[]).map(toTemplate);
  }

  template(id: string): TemplateRow | undefined {
    const raw = this.#prepare('SELECT * FROM templates WHERE id = ?').get(id) as RawTemplate | undefined;
    return raw ? toTemplate(raw) : undefined;
  }

  upsertTemplate(t: TemplateRow): void {
    this.db
      .prepare(
        `INSERT INTO templates (id, image, image_key, created_at, creation_time_ms, network, limits, config)
         VALUES (@id, @image, @image_key, @created_at, @creation_time_ms, @network, @limits, @config)
         ON CONFLICT(id) DO UPDATE SET image = excluded.image, image_key = excluded.image_key,
           created_at = excluded.created_at, creation_time_ms = excluded.creation_time_ms,
           network = excluded.network, limits = excluded.limits, config = excluded.config`,
      )
      .run({
        id: t.id,
        image: t.image,
        image_key: t.imageKey,
        created_at: t.createdAt.toISOString(),
        creation_time_ms: t.creationTimeMs,
        network: JSON.stringify(t.network),
        limits: JSON.stringify(t.limits),
        config: t.config ? JSON.stringify(t.config) : null,
      });
  }

  deleteTemplate(id: string): void {
    this.db.prepare('DELETE FROM templates WHERE id = ?').run(id);
  }

  sandboxes(): SandboxRow[] {
    return (this.#prepare('SELECT * FROM sandboxes ORDER BY created_at').all() as RawSandbox[]).map(toSandbox);
  }

  sandbox(id: string): SandboxRow | undefined {
    const raw = this.#prepare('SELECT * FROM sandboxes WHERE id = ?').get(id) as RawSandbox | undefined;
    return raw ? toSandbox(raw) : undefined;
  }

  /** Insert in state 'creating'; fails (returns false) if the id or the cgroup key is taken. */
  reserveSandbox(s: SandboxRow): boolean {
    const r = this.db
      .prepare(
        `INSERT OR IGNORE INTO sandboxes (id, template_id, state, created_at, fork_time_ms, hostname, limits,
           parent_id, generation, init_pid, init_start_ticks, supervisor_pid, cgroup_key, env)
         VALUES (?, ?, 'creating', ?, 0, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?)`,
      )
      .run(
        s.id,
        s.templateId,
        s.createdAt.toISOString(),
        s.hostname,
        JSON.stringify(s.limits),
        s.parentId,
        s.generation,
        s.cgroupKey,
        s.env ? JSON.stringify(s.env) : null,
      );
    return r.changes === 1;
  }

  markRunning(
    id: string,
    p: { initPid: number; initStartTicks: string; supervisorPid: number | null; forkTimeMs: number },
  ): void {
    this.#prepare(
      `UPDATE sandboxes SET state = 'running', init_pid = ?, init_start_ticks = ?, supervisor_pid = ?, fork_time_ms = ?
         WHERE id = ?`,
    ).run(p.initPid, p.initStartTicks, p.supervisorPid, p.forkTimeMs, id);
  }

  /** Keep what the fork that made `id` carried, so it is known after the fork's answer. */
  setForkCarried(id: string, carried: ForkCarried): void {
    this.#prepare('UPDATE sandboxes SET fork_carried = ? WHERE id = ?').run(JSON.stringify(carried), id);
  }

  /** A pooled sandbox handed out: the env its user asked for. */
  setEnv(id: string, env: Record<string, string> | undefined): void {
    this.#prepare('UPDATE sandboxes SET env = ? WHERE id = ?').run(env ? JSON.stringify(env) : null, id);
  }

  setState(id: string, state: SandboxState): void {
    this.#prepare('UPDATE sandboxes SET state = ? WHERE id = ?').run(state, id);
  }

  /** Take a pooled sandbox out of the pool to end it: false when a create claimed it first. */
  unpool(id: string): boolean {
    return (
      this.#prepare("UPDATE sandboxes SET state = 'terminating' WHERE id = ? AND state = 'pooled'").run(id).changes ===
      1
    );
  }

  /** Take a pooled sandbox out of the pool for a while (its state `creating`): false when a create claimed it first. */
  claimPooled(id: string): boolean {
    return (
      this.#prepare("UPDATE sandboxes SET state = 'creating' WHERE id = ? AND state = 'pooled'").run(id).changes === 1
    );
  }

  /** Put a sandbox claimed with claimPooled back (unless it was ended meanwhile). */
  repool(id: string): void {
    this.#prepare("UPDATE sandboxes SET state = 'pooled' WHERE id = ? AND state = 'creating'").run(id);
  }

  pooledCount(templateId: string): number {
    const r = this.#prepare("SELECT count(*) AS n FROM sandboxes WHERE state = 'pooled' AND template_id = ?").get(
      templateId,
    ) as { n: number };
    return r.n;
  }

  /**
   * Atomically claim a pooled sandbox of this template for `newId`: the row is renamed and
   * becomes 'creating'; its cgroup key stays. Returns the pooled row as it was, or undefined
   * if the pool is empty.
   */
  takePooled(templateId: string, newId: string): SandboxRow | undefined {
    return this.db.transaction(() => {
      const raw = this.#prepare(
        "SELECT * FROM sandboxes WHERE state = 'pooled' AND template_id = ? ORDER BY created_at LIMIT 1",
      ).get(templateId) as RawSandbox | undefined;
      if (!raw) return undefined;
      const taken = this.#prepare(
        "UPDATE sandboxes SET id = ?, state = 'creating', hostname = ?, created_at = ? WHERE id = ? AND state = 'pooled'",
      ).run(newId, newId, new Date().toISOString(), raw.id);
      return taken.changes === 1 ? toSandbox(raw) : undefined;
    })();
  }

  setDeadline(id: string, deadlineMs: number | null): void {
    this.db.prepare('UPDATE sandboxes SET deadline_ms = ? WHERE id = ?').run(deadlineMs, id);
  }

  deadline(id: string): number | null {
    const r = this.db.prepare('SELECT deadline_ms FROM sandboxes WHERE id = ?').get(id) as
      | { deadline_ms: number | null }
      | undefined;
    return r?.deadline_ms ?? null;
  }

  /** Sandboxes with a deadline, earliest first. */
  deadlines(): { id: string; deadlineMs: number }[] {
    return (
      this.db
        .prepare('SELECT id, deadline_ms FROM sandboxes WHERE deadline_ms IS NOT NULL ORDER BY deadline_ms')
        .all() as {
        id: string;
        deadline_ms: number;
      }[]
    ).map((r) => ({ id: r.id, deadlineMs: r.deadline_ms }));
  }

  /** What the deleted row was, read by the delete itself (undefined: there was none). */
  deleteSandbox(id: string): { hadDeadline: boolean } | undefined {
    const gone = this.#prepare('DELETE FROM sandboxes WHERE id = ? RETURNING deadline_ms').get(id) as
      | { deadline_ms: number | null }
      | undefined;
    return gone && { hadDeadline: gone.deadline_ms !== null };
  }
}

function toTemplate(r: RawTemplate): TemplateRow {
  return {
    id: r.id,
    image: r.image,
    imageKey: r.image_key,
    ready: true,
    createdAt: new Date(r.created_at),
    creationTimeMs: r.creation_time_ms,
    network: JSON.parse(r.network),
    limits: JSON.parse(r.limits) as ResourceLimits,
    ...(r.config ? { config: JSON.parse(r.config) as TemplateConfig } : {}),
  };
}

function toSandbox(r: RawSandbox): SandboxRow {
  return {
    id: r.id,
    templateId: r.template_id,
    state: r.state as SandboxState,
    createdAt: new Date(r.created_at),
    forkTimeMs: r.fork_time_ms,
    hostname: r.hostname,
    limits: JSON.parse(r.limits) as ResourceLimits,
    parentId: r.parent_id,
    generation: r.generation,
    initPid: r.init_pid,
    initStartTicks: r.init_start_ticks,
    supervisorPid: r.supervisor_pid,
    cgroupKey: r.cgroup_key ?? r.id,
    deadlineMs: r.deadline_ms ?? null,
    ...(r.fork_carried ? { forkCarried: JSON.parse(r.fork_carried) as ForkCarried } : {}),
    ...(r.env ? { env: JSON.parse(r.env) as Record<string, string> } : {}),
  };
}
