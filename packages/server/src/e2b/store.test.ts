import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { E2bSandboxStore } from './store.js';

test('a database from before the egress rules column gets it; its rows read back with no rules', () => {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE e2b_sandboxes (id TEXT PRIMARY KEY, owner TEXT NOT NULL, template TEXT NOT NULL,
    metadata TEXT NOT NULL, env_vars TEXT NOT NULL, started_at INTEGER NOT NULL, public_traffic INTEGER NOT NULL,
    internet INTEGER)`);
  db.prepare(`INSERT INTO e2b_sandboxes VALUES ('old', 'k', 'base', '{}', '{}', 0, 1, NULL)`).run();
  const store = new E2bSandboxStore(db);
  assert.deepEqual(store.get('old')?.egress, { allowOut: [], denyOut: [] });
  const row = { ...(store.get('old') as NonNullable<ReturnType<typeof store.get>>), id: 'new' };
  store.put({ ...row, egress: { allowOut: ['pypi.org'], denyOut: ['0.0.0.0/0'] } });
  assert.deepEqual(new E2bSandboxStore(db).get('new')?.egress, { allowOut: ['pypi.org'], denyOut: ['0.0.0.0/0'] });
  db.close();
});
