/**
 * What the E2B surface knows about a sandbox beyond the engine's record: who created it (the
 * digest of the API key; E2B keys are tenants, so one key never sees another's sandboxes), the
 * template name the client asked for, metadata, environment variables, and its traffic rule.
 * Rows live in the state database so they survive a server restart like the sandboxes do.
 */
import type { Database } from 'better-sqlite3';
import type { Account } from './accounts.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS e2b_sandboxes (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  template TEXT NOT NULL,
  metadata TEXT NOT NULL,
  env_vars TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  public_traffic INTEGER NOT NULL,
  internet INTEGER,
  egress_rules TEXT,
  account TEXT
)`;

export interface E2bSandboxRow {
  id: string;
  /** sha256 hex of the API key that created it. */
  owner: string;
  /** The template name as the client sent it (e.g. `code-interpreter-v1`). */
  template: string;
  metadata: Record<string, string>;
  envVars: Record<string, string>;
  startedAt: Date;
  /** false: traffic to the sandbox's ports needs its traffic access token. */
  publicTraffic: boolean;
  /** What the client asked for; null when it did not say. */
  internet: boolean | null;
  /** network.allowOut / denyOut as the client sent them (create, then each updateNetwork). */
  egress: { allowOut: string[]; denyOut: string[] };
  /** The account envd calls act as when they name none (its template's last setUser); absent: `user`. */
  account?: Account;
}

interface RawRow {
  id: string;
  owner: string;
  template: string;
  metadata: string;
  env_vars: string;
  started_at: number;
  public_traffic: number;
  internet: number | null;
  egress_rules: string | null;
  account: string | null;
}

export class E2bSandboxStore {
  readonly #insert;
  readonly #get;
  readonly #byOwner;
  readonly #delete;
  readonly #all;
  /** Rows read since their last write; shared and frozen, so callers copy to change one. */
  readonly #rows = new Map<string, Readonly<E2bSandboxRow>>();

  constructor(db: Database) {
    db.exec(SCHEMA);
    // Databases made before a column existed get it (rows there had no rules, and `user`).
    const columns = db.prepare('PRAGMA table_info(e2b_sandboxes)').all() as { name: string }[];
    for (const column of ['egress_rules', 'account']) {
      if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE e2b_sandboxes ADD COLUMN ${column} TEXT`);
    }
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO e2b_sandboxes (id, owner, template, metadata, env_vars, started_at, public_traffic, internet, egress_rules, account)
       VALUES (@id, @owner, @template, @metadata, @env_vars, @started_at, @public_traffic, @internet, @egress_rules, @account)`,
    );
    this.#get = db.prepare('SELECT * FROM e2b_sandboxes WHERE id = ?');
    this.#byOwner = db.prepare('SELECT * FROM e2b_sandboxes WHERE owner = ? ORDER BY started_at');
    this.#delete = db.prepare('DELETE FROM e2b_sandboxes WHERE id = ?');
    this.#all = db.prepare('SELECT id FROM e2b_sandboxes');
  }

  put(row: E2bSandboxRow): void {
    this.#rows.delete(row.id);
    this.#insert.run({
      id: row.id,
      owner: row.owner,
      template: row.template,
      metadata: JSON.stringify(row.metadata),
      env_vars: JSON.stringify(row.envVars),
      started_at: row.startedAt.getTime(),
      public_traffic: row.publicTraffic ? 1 : 0,
      internet: row.internet === null ? null : row.internet ? 1 : 0,
      egress_rules: JSON.stringify(row.egress),
      account: row.account ? JSON.stringify(row.account) : null,
    });
  }

  /** Read through a cache of this store's own writes: every envd call looks its sandbox up. */
  get(id: string): E2bSandboxRow | undefined {
    const cached = this.#rows.get(id);
    if (cached !== undefined) return cached;
    const raw = this.#get.get(id) as RawRow | undefined;
    if (raw === undefined) return undefined;
    const row = Object.freeze(fromRaw(raw));
    this.#rows.set(id, row);
    return row;
  }

  listByOwner(owner: string): E2bSandboxRow[] {
    return (this.#byOwner.all(owner) as RawRow[]).map(fromRaw);
  }

  ids(): string[] {
    return (this.#all.all() as { id: string }[]).map((r) => r.id);
  }

  delete(id: string): void {
    this.#rows.delete(id);
    this.#delete.run(id);
  }
}

function fromRaw(raw: RawRow): E2bSandboxRow {
  return {
    id: raw.id,
    owner: raw.owner,
    template: raw.template,
    metadata: JSON.parse(raw.metadata) as Record<string, string>,
    envVars: JSON.parse(raw.env_vars) as Record<string, string>,
    startedAt: new Date(raw.started_at),
    publicTraffic: raw.public_traffic === 1,
    internet: raw.internet === null ? null : raw.internet === 1,
    egress: raw.egress_rules === null ? { allowOut: [], denyOut: [] } : JSON.parse(raw.egress_rules),
    ...(raw.account !== null && { account: JSON.parse(raw.account) as Account }),
  };
}
