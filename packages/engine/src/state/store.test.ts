import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { blankRow } from '../core/rows.js';
import { openDatabase } from './database.js';
import { StateStore } from './store.js';

const LIMITS = { memoryBytes: 256 * 1024 * 1024, cpus: 1, pids: 256 };

test('a pooled sandbox handed out keeps its cgroup key, and no later sandbox can take that key', () => {
  const store = new StateStore(openDatabase(':memory:'));
  assert.equal(store.reserveSandbox(blankRow('pool-abc', 'python', LIMITS, 'pool.abc')), true);
  store.setState('pool-abc', 'pooled');
  const pooled = store.takePooled('python', 'mine');
  assert.equal(pooled?.cgroupKey, 'pool.abc');
  assert.equal(store.sandbox('mine')?.cgroupKey, 'pool.abc');
  assert.equal(store.sandbox('pool-abc'), undefined);
  // The pool id is free again, and a sandbox may take it: its cgroups get a name of their own.
  assert.equal(store.reserveSandbox(blankRow('pool-abc', 'python', LIMITS)), true);
  assert.equal(store.sandbox('pool-abc')?.cgroupKey, 'pool-abc');
  // A key already in use is refused like a taken id.
  assert.equal(store.reserveSandbox(blankRow('other', 'python', LIMITS, 'pool.abc')), false);
});

test('rows from before the cgroup key are named by their id', () => {
  const db = openDatabase(':memory:');
  db.prepare(
    `INSERT INTO sandboxes (id, template_id, state, created_at, fork_time_ms, hostname, limits, generation)
     VALUES ('old', 'python', 'running', ?, 0, 'old', ?, 0)`,
  ).run(new Date().toISOString(), JSON.stringify(LIMITS));
  db.exec("UPDATE sandboxes SET cgroup_key = NULL WHERE id = 'old'");
  assert.equal(new StateStore(db).sandbox('old')?.cgroupKey, 'old');
});

test("a fork's report is kept with the child across a reopen, and a sandbox not forked has none", () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitos-test-store-'));
  try {
    const file = join(dir, 'mitos.db');
    const first = openDatabase(file);
    const store = new StateStore(first);
    store.reserveSandbox(blankRow('parent', 'python', LIMITS));
    store.reserveSandbox({ ...blankRow('child', 'python', LIMITS), parentId: 'parent', generation: 1 });
    const carried = {
      filesystem: true,
      interpreter: true,
      interpreterSkipped: ['sock'],
      processes: false,
      processesNotCarried: [{ pid: 7, command: 'sleep 600', reason: 'not checkpointed' }],
      connections: false as const,
    };
    store.setForkCarried('child', carried);
    first.close();
    const reopened = openDatabase(file);
    const again = new StateStore(reopened);
    assert.deepEqual(again.sandbox('child')?.forkCarried, carried);
    assert.equal('forkCarried' in (again.sandbox('parent') ?? {}), false);
    reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
