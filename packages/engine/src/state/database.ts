/**
 * The engine's SQLite database: what must survive a server restart (templates, sandboxes).
 * One file per state directory, WAL mode so the server's own tables can share it.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';

export type StateDatabase = Database.Database;

const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS templates (
     id TEXT PRIMARY KEY,
     image TEXT NOT NULL,
     image_key TEXT NOT NULL,
     created_at TEXT NOT NULL,
     creation_time_ms REAL NOT NULL,
     network TEXT NOT NULL,
     limits TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS sandboxes (
     id TEXT PRIMARY KEY,
     template_id TEXT NOT NULL,
     state TEXT NOT NULL,
     created_at TEXT NOT NULL,
     fork_time_ms REAL NOT NULL,
     hostname TEXT NOT NULL,
     limits TEXT NOT NULL,
     parent_id TEXT,
     generation INTEGER NOT NULL DEFAULT 0,
     init_pid INTEGER,
     init_start_ticks TEXT,
     supervisor_pid INTEGER
   )`,
  'ALTER TABLE sandboxes ADD COLUMN deadline_ms INTEGER',
  // Host uid range per sandbox (host/uid-ranges.ts): slot n is FIRST_SANDBOX_UID + n * 65536.
  `CREATE TABLE IF NOT EXISTS uid_ranges (
     slot INTEGER PRIMARY KEY,
     sandbox_id TEXT NOT NULL UNIQUE
   )`,
  // The name of a sandbox's cgroups, fixed at launch: a pooled sandbox handed out under its
  // user's id keeps it, so the hand-out renames no cgroup. Rows from before are named by id.
  'ALTER TABLE sandboxes ADD COLUMN cgroup_key TEXT',
  'UPDATE sandboxes SET cgroup_key = id',
  // Two sandboxes never share cgroups, whatever ids later sandboxes are given.
  'CREATE UNIQUE INDEX IF NOT EXISTS sandboxes_cgroup_key ON sandboxes (cgroup_key)',
  // Templates built from a spec: env, workdir, user, start command, ready check, step keys.
  'ALTER TABLE templates ADD COLUMN config TEXT',
  // The chained build cache: a step's key -> the image after it and the config it leaves.
  `CREATE TABLE IF NOT EXISTS build_steps (
     key TEXT PRIMARY KEY,
     image_key TEXT NOT NULL,
     config TEXT NOT NULL,
     created_at TEXT NOT NULL
   )`,
  // What the fork that made a sandbox carried (JSON ForkCarried); null for a sandbox not forked.
  'ALTER TABLE sandboxes ADD COLUMN fork_carried TEXT',
  // The sandbox's own env (JSON object); null when it has none. Forks copy it.
  'ALTER TABLE sandboxes ADD COLUMN env TEXT',
];

export function openDatabase(file: string): StateDatabase {
  const db = new Database(file);
  // The database holds the preview signing secret and idempotency records: owner only.
  if (file !== ':memory:') chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  const apply = db.transaction(() => {
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i] as string);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  });
  apply();
  return db;
}
