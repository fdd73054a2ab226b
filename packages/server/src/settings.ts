/**
 * Small server-level values that must survive restarts (the generated preview secret), in the
 * state database next to the idempotency keys.
 */
import type { Database } from 'better-sqlite3';

const SCHEMA = `CREATE TABLE IF NOT EXISTS server_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
)`;

export class ServerSettings {
  readonly #get;
  readonly #insert;

  constructor(db: Database) {
    db.exec(SCHEMA);
    this.#get = db.prepare('SELECT value FROM server_settings WHERE key = ?');
    this.#insert = db.prepare('INSERT INTO server_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
  }

  get(key: string): string | undefined {
    return (this.#get.get(key) as { value: string } | undefined)?.value;
  }

  /** The stored value, or `make()` stored first; two servers on one database agree on the winner. */
  getOrCreate(key: string, make: () => string): string {
    this.#insert.run(key, make());
    return this.get(key) as string;
  }
}
