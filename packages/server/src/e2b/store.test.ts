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

test('reads come from the cache of its own writes: a rewrite and a delete are seen at once', () => {
  const db = new Database(':memory:');
  const store = new E2bSandboxStore(db);
  const row = {
    id: 'sb1',
    owner: 'k',
    template: 'base',
    metadata: { v: '1' },
    envVars: {},
    startedAt: new Date(0),
    publicTraffic: true,
    internet: null,
    egress: { allowOut: [], denyOut: [] },
  };
  store.put(row);
  const first = store.get('sb1');
  assert.deepEqual(first?.metadata, { v: '1' });
  assert.equal(store.get('sb1'), first, 'the second read is the cached row');
  assert.ok(Object.isFrozen(first), 'a shared row cannot be changed in place');
  store.put({ ...row, metadata: { v: '2' } });
  assert.deepEqual(store.get('sb1')?.metadata, { v: '2' });
  store.delete('sb1');
  assert.equal(store.get('sb1'), undefined);
  db.close();
});
