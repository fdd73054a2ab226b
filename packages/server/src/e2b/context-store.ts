/**
 * The code interpreter's contexts in the state database. A context's kernel is a process in the
 * sandbox and outlives a server restart (sandboxes keep running); the row is what lets the
 * restarted server still list it and route cells to it by id.
 */
import type { Database } from 'better-sqlite3';

export interface CodeContext {
  id: string;
  language: string;
  cwd: string;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS e2b_contexts (
  sandbox_id TEXT NOT NULL,
  id TEXT NOT NULL,
  language TEXT NOT NULL,
  cwd TEXT NOT NULL,
  PRIMARY KEY (sandbox_id, id)
)`;

export class E2bContextStore {
  readonly #insert;
  readonly #get;
  readonly #list;
  readonly #count;
  readonly #delete;
  readonly #forget;
  readonly #sandboxes;

  constructor(db: Database) {
    db.exec(SCHEMA);
    this.#insert = db.prepare('INSERT INTO e2b_contexts (sandbox_id, id, language, cwd) VALUES (?, ?, ?, ?)');
    this.#get = db.prepare('SELECT id, language, cwd FROM e2b_contexts WHERE sandbox_id = ? AND id = ?');
    // rowid: the order they were made in.
    this.#list = db.prepare('SELECT id, language, cwd FROM e2b_contexts WHERE sandbox_id = ? ORDER BY rowid');
    this.#count = db.prepare('SELECT count(*) AS n FROM e2b_contexts WHERE sandbox_id = ?');
    this.#delete = db.prepare('DELETE FROM e2b_contexts WHERE sandbox_id = ? AND id = ?');
    this.#forget = db.prepare('DELETE FROM e2b_contexts WHERE sandbox_id = ?');
    this.#sandboxes = db.prepare('SELECT DISTINCT sandbox_id AS id FROM e2b_contexts');
  }

  put(sandboxId: string, c: CodeContext): void {
    this.#insert.run(sandboxId, c.id, c.language, c.cwd);
  }

  get(sandboxId: string, id: string): CodeContext | undefined {
    return this.#get.get(sandboxId, id) as CodeContext | undefined;
  }

  list(sandboxId: string): CodeContext[] {
    return this.#list.all(sandboxId) as CodeContext[];
  }

  count(sandboxId: string): number {
    return (this.#count.get(sandboxId) as { n: number }).n;
  }

  delete(sandboxId: string, id: string): void {
    this.#delete.run(sandboxId, id);
  }

  forget(sandboxId: string): void {
    this.#forget.run(sandboxId);
  }

  sandboxIds(): string[] {
    return (this.#sandboxes.all() as { id: string }[]).map((r) => r.id);
  }
}
