import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { BlobStore, LocalBackend, Workspaces } from '@mitos/engine';
import { FakeEngine } from '@mitos/testkit';
import { makeTestApp } from '@mitos/testkit/server';
import Database from 'better-sqlite3';

/** Ends that do not pass DELETE /v1/sandboxes (deadline, another surface, a lost VM) over the fake engine. */
describe('a bound sandbox ending any other way', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mitos-test-binding-'));
  const engine = new FakeEngine();
  const db = new Database(':memory:');
  const workspaces = new Workspaces({ engine, db, store: new BlobStore(new LocalBackend(dir)) });
  const t = makeTestApp({ engine, db, workspaces });
  const bound = async (workspace: string): Promise<string> => {
    const reply = await t.call('/v1/fork', { template: 'python', workspace });
    assert.equal(reply.status, 200, reply.text);
    return reply.body.id as string;
  };
  const workspace = async (name: string) => (await t.call(`/v1/workspaces/${name}`)).body;

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('its deadline (or any terminate) commits the workspace before it goes', async () => {
    await engine.ensureTemplate({ id: 'python' });
    assert.equal((await t.call('/v1/workspaces', { name: 'w' })).status, 200);
    const id = await bound('w');
    await engine.files.write(id, '/workspace/notes.txt', Buffer.from('kept'));
    assert.equal(await engine.terminate(id, 'deadline'), true);
    const after = await workspace('w');
    assert.equal(after.writer, null);
    assert.equal(after.head, 'w-1');
    assert.deepEqual(
      { ...after.last_writer, at: undefined },
      {
        sandbox: id,
        reason: 'deadline',
        revision: 'w-1',
        error: null,
        at: undefined,
      },
    );
    assert.deepEqual((await t.call('/v1/workspaces/w/diff')).body.added, ['notes.txt']);

    // The next writer hydrates what the deadline committed.
    const next = await bound('w');
    assert.equal((await engine.files.read(next, '/workspace/notes.txt')).toString(), 'kept');
    await engine.files.write(next, '/workspace/notes.txt', Buffer.from('lost'));
    // A lost sandbox cannot be read: the binding ends, the head stays, and the record says why.
    await engine.terminate(next, 'lost');
    const lost = await workspace('w');
    assert.equal(lost.writer, null);
    assert.equal(lost.head, 'w-1');
    assert.equal(lost.last_writer.reason, 'lost');
    assert.equal(lost.last_writer.revision, null);
    assert.equal(lost.last_writer.error.code, 'sandbox_lost');

    // DELETE records its commit the same way.
    const third = await bound('w');
    await engine.files.write(third, '/workspace/more.txt', Buffer.from('x'));
    assert.equal((await t.call(`/v1/sandboxes/${third}`, undefined, { method: 'DELETE' })).status, 200);
    const deleted = await workspace('w');
    assert.deepEqual(
      [deleted.head, deleted.last_writer.reason, deleted.last_writer.revision],
      ['w-2', 'terminated', 'w-2'],
    );
  });

  test('a writer whose sandbox did not survive a server restart ends as lost when the server starts', async () => {
    const restartDb = new Database(':memory:');
    const before = new Workspaces({ engine, db: restartDb, store: new BlobStore(new LocalBackend(dir)) });
    before.create('crashed');
    before.catalog.setWriter('crashed', 'sb-gone', null);
    const restarted = makeTestApp({
      engine,
      db: restartDb,
      workspaces: new Workspaces({ engine, db: restartDb, store: new BlobStore(new LocalBackend(dir)) }),
    });
    const ws = (await restarted.call('/v1/workspaces/crashed')).body;
    assert.equal(ws.writer, null);
    assert.deepEqual(
      [ws.last_writer.sandbox, ws.last_writer.reason, ws.last_writer.error.code],
      ['sb-gone', 'lost', 'sandbox_lost'],
    );
  });
});
