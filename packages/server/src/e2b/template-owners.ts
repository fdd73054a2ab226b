/**
 * Which tenant built each E2B template, its default account, how often it was used, and whether
 * its owner published it (E2B's `public`: other keys may start sandboxes from it, nothing more).
 */
import type { Database } from 'better-sqlite3';

export interface OwnedTemplate {
  id: string;
  spawnCount: number;
  lastSpawnedAt: Date | null;
}

interface RawOwned {
  id: string;
  spawn_count: number;
  last_spawned_at: number | null;
}

/** In the state database, so a restart keeps it. */
export class E2bTemplateOwners {
  readonly #get;
  readonly #put;
  readonly #delete;

  readonly #user;
  readonly #setUser;
  readonly #byOwner;
  readonly #spawned;
  readonly #one;
  readonly #public;
  readonly #setPublic;

  constructor(db: Database) {
    db.exec('CREATE TABLE IF NOT EXISTS e2b_templates (id TEXT PRIMARY KEY, owner TEXT NOT NULL, user TEXT)');
    // Databases made before a column existed get it (their templates' default user is `user`,
    // and their sandboxes were not counted).
    const columns = db.prepare('PRAGMA table_info(e2b_templates)').all() as { name: string }[];
    for (const [column, type] of [
      ['user', 'TEXT'],
      ['spawn_count', 'INTEGER NOT NULL DEFAULT 0'],
      ['last_spawned_at', 'INTEGER'],
      ['public', 'INTEGER NOT NULL DEFAULT 0'],
    ]) {
      if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE e2b_templates ADD COLUMN ${column} ${type}`);
    }
    this.#byOwner = db.prepare('SELECT * FROM e2b_templates WHERE owner = ? ORDER BY id');
    this.#one = db.prepare('SELECT * FROM e2b_templates WHERE id = ?');
    this.#spawned = db.prepare(
      'UPDATE e2b_templates SET spawn_count = spawn_count + 1, last_spawned_at = ? WHERE id = ?',
    );
    this.#get = db.prepare('SELECT owner FROM e2b_templates WHERE id = ?');
    this.#put = db.prepare('INSERT OR IGNORE INTO e2b_templates (id, owner) VALUES (?, ?)');
    this.#delete = db.prepare('DELETE FROM e2b_templates WHERE id = ?');
    this.#user = db.prepare('SELECT owner, user FROM e2b_templates WHERE id = ?');
    this.#setUser = db.prepare('UPDATE e2b_templates SET user = ? WHERE id = ?');
    this.#public = db.prepare('SELECT public FROM e2b_templates WHERE id = ?');
    this.#setPublic = db.prepare('UPDATE e2b_templates SET public = ? WHERE id = ?');
  }

  owner(id: string): string | undefined {
    return (this.#get.get(id) as { owner: string } | undefined)?.owner;
  }

  /** Owner and default user (its last build's last setUser; null: `user`) of an E2B-built template. */
  built(id: string): { owner: string; user: string | null } | undefined {
    return this.#user.get(id) as { owner: string; user: string | null } | undefined;
  }

  /** Whether the template's owner published it (E2B's `public`). */
  isPublic(id: string): boolean {
    return (this.#public.get(id) as { public: number } | undefined)?.public === 1;
  }

  setPublic(id: string, published: boolean): void {
    this.#setPublic.run(published ? 1 : 0, id);
  }

  setUser(id: string, user: string): void {
    this.#setUser.run(user, id);
  }

  /** Every engine template the tenant's builds made (templates and their tags' copies). */
  byOwner(owner: string): OwnedTemplate[] {
    return (this.#byOwner.all(owner) as RawOwned[]).map((r) => this.byOwnerRow(r) as OwnedTemplate);
  }

  stats(id: string): OwnedTemplate | undefined {
    return this.byOwnerRow(this.#one.get(id) as RawOwned | undefined);
  }

  private byOwnerRow(r: RawOwned | undefined): OwnedTemplate | undefined {
    return (
      r && {
        id: r.id,
        spawnCount: r.spawn_count,
        lastSpawnedAt: r.last_spawned_at === null ? null : new Date(r.last_spawned_at),
      }
    );
  }

  /** A sandbox was started from the template (E2B's spawnCount and lastSpawnedAt). */
  spawned(id: string): void {
    this.#spawned.run(Date.now(), id);
  }

  claim(id: string, owner: string): void {
    this.#put.run(id, owner);
  }

  release(id: string): void {
    this.#delete.run(id);
  }
}
