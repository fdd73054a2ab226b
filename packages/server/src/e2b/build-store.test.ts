import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { E2bBuilds, INTERRUPTED } from './build-store.js';

const at = '2026-01-01T00:00:00.000Z';

test('builds, their logs and reasons are read back by a reopened store; a running one is marked failed', () => {
  const db = new Database(':memory:');
  const first = new E2bBuilds(db);
  const done = first.create({ id: 'b1', templateId: 't', owner: 'k', resources: { cpu: 2 }, tags: ['default'] });
  assert.equal(done.status, 'waiting');
  assert.equal(first.active('t')?.id, 'b1');
  first.start('b1');
  first.log('b1', { timestamp: at, level: 'info', message: 'step 1' });
  first.log('b1', { timestamp: at, level: 'info', message: 'step 2' });
  first.finish('b1', 'ready');
  first.create({ id: 'b2', templateId: 'u', owner: 'k', resources: {}, tags: ['default'] });
  first.start('b2');
  first.log('b2', { timestamp: at, level: 'info', message: 'halfway' });
  first.create({ id: 'b3', templateId: 'v', owner: 'k', resources: {}, tags: ['default'] });

  first.create({ id: 'b4', templateId: 't', owner: 'k', resources: {}, tags: ['v2', 'stable'] });

  const reopened = new E2bBuilds(db);
  const { createdAt, ...b1 } = reopened.get('b1') ?? assert.fail('b1 is kept');
  assert.ok(createdAt.getTime() > 0);
  assert.deepEqual(b1, {
    id: 'b1',
    templateId: 't',
    owner: 'k',
    status: 'ready',
    resources: { cpu: 2 },
    tags: ['default'],
  });
  // A template's builds, newest first, with the tags each was for.
  assert.deepEqual(
    reopened.ofTemplate('t').map((b) => [b.id, b.tags]),
    [
      ['b4', ['v2', 'stable']],
      ['b1', ['default']],
    ],
  );
  assert.deepEqual(
    reopened.logs('b1', 1).map((l) => l.message),
    ['step 2'],
  );
  assert.equal(reopened.active('t')?.id, 'b4', 'the finished build is not active, the waiting one is');
  // The build that was running cannot finish any more: it says so, in its reason and its log.
  assert.equal(reopened.get('b2')?.status, 'error');
  assert.equal(reopened.get('b2')?.reason?.message, INTERRUPTED);
  assert.deepEqual(
    reopened.logs('b2', 0).map((l) => l.message),
    ['halfway', INTERRUPTED],
  );
  // One that had not started yet can still be started.
  assert.equal(reopened.get('b3')?.status, 'waiting');
  assert.equal(reopened.active('v')?.id, 'b3');
  db.close();
});
