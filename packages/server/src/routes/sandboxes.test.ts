import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { FakeEngine } from '@mitos/testkit';
import { makeTestApp, type TestApp, waitFor } from '@mitos/testkit/server';
import Database from 'better-sqlite3';

async function withTemplate(t: TestApp, id = 'python'): Promise<void> {
  await t.engine.ensureTemplate({ id });
}

describe('POST /v1/fork', () => {
  it('creates a sandbox with the requested id and answers the 4.4 record', async () => {
    const t = makeTestApp({ publicUrl: 'http://127.0.0.1:9999' });
    await withTemplate(t);
    const res = await t.call('/v1/fork', { template: 'python', id: 'sandbox-1a2b3c4d' });
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 'sandbox-1a2b3c4d');
    assert.equal(res.body.template_id, 'python');
    assert.equal(res.body.endpoint, 'http://127.0.0.1:9999');
    assert.equal(typeof res.body.fork_time_ms, 'number');
    assert.ok(res.body.fork_time_ms > 0);
    assert.ok(!Number.isNaN(Date.parse(res.body.created_at)));
    assert.deepEqual(res.body.network, { egress: 'deny', inbound: 'deny' });
  });

  it('uses the request origin as endpoint when no public URL is configured', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const res = await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    assert.equal(res.body.endpoint, 'http://localhost');
  });

  it('generates a sandbox-xxxxxxxx id when none is given', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const res = await t.call('/v1/fork', { template: 'python' });
    assert.equal(res.status, 200);
    assert.match(res.body.id, /^sandbox-[0-9a-f]{8}$/);
  });

  it('answers 404 not_found for an unknown template', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/fork', { template: 'ghost', id: 'sb-1' });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    assert.equal(res.body.error.cause, 'template "ghost" not found');
  });

  it('answers 409 conflict for the id of a live sandbox instead of replacing it', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    assert.equal((await t.call('/v1/fork', { template: 'python', id: 'sb-1' })).status, 200);
    const res = await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'conflict');
    assert.equal(t.engine.createCalls.length, 1);
  });

  it('answers 409 conflict for two concurrent forks onto one id', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    let open!: () => void;
    t.engine.createGate = new Promise((resolve) => {
      open = resolve;
    });
    const first = t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    await waitFor(() => t.engine.createCalls.length === 1);
    const second = await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    open();
    assert.equal(second.status, 409);
    assert.equal((await first).status, 200);
  });

  it('rejects invalid sandbox and template ids with 400', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    for (const body of [
      { template: 'python', id: '../x' },
      { template: 'python', id: 'a\u0000b' },
      { template: 'python', id: '.hidden' },
      { template: '../python', id: 'sb-1' },
      { template: '', id: 'sb-1' },
      { id: 'sb-1' },
    ]) {
      const res = await t.call('/v1/fork', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'invalid_json');
    }
    assert.equal(t.engine.createCalls.length, 0);
  });

  it('maps the limits extension to engine units', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const res = await t.call('/v1/fork', {
      template: 'python',
      id: 'sb-1',
      limits: { memory_mb: 256, pids: 64, cpus: 0.5, disk_mb: 64 },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(t.engine.createCalls[0]?.limits, {
      memoryBytes: 256 * 1024 * 1024,
      pids: 64,
      cpus: 0.5,
      diskBytes: 64 * 1024 * 1024,
    });
  });

  it('refuses limits it cannot apply or that are out of range', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    for (const limits of [{ disk_mb: 1 }, { memory_mb: 1 }, { pids: 'many' }, { swap_mb: 1 }]) {
      const res = await t.call('/v1/fork', { template: 'python', id: 'sb-1', limits });
      assert.equal(res.status, 400, JSON.stringify(limits));
    }
  });

  it('passes engine errors through with their code and status', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    t.engine.failNextCreate = new MitosError('capacity_exhausted', 'no room', { sandbox: 'sb-1' });
    const res = await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'capacity_exhausted');
    assert.equal(res.body.error.cause, 'no room');
    assert.deepEqual(res.body.error.context, { sandbox: 'sb-1' });
  });
});

describe('GET /v1/sandboxes and DELETE /v1/sandboxes/:id', () => {
  it('lists live sandboxes with id and template_id, and forgets terminated ones', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    assert.deepEqual((await t.call('/v1/sandboxes')).body, []);
    await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    await t.call('/v1/fork', { template: 'python', id: 'sb-2' });
    const list = await t.call('/v1/sandboxes');
    assert.deepEqual(list.body.map((s: { id: string }) => s.id).sort(), ['sb-1', 'sb-2']);
    for (const s of list.body) {
      assert.equal(s.template_id, 'python');
      assert.ok(s.fork_time_ms > 0);
      assert.equal(typeof s.endpoint, 'string');
    }

    const del = await t.call('/v1/sandboxes/sb-1', undefined, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { status: 'terminated', id: 'sb-1' });
    assert.deepEqual(
      (await t.call('/v1/sandboxes')).body.map((s: { id: string }) => s.id),
      ['sb-2'],
    );
  });

  it('?wait=false answers 202 terminating once the teardown has begun; an unknown id is still 404', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    const del = await t.call('/v1/sandboxes/sb-1?wait=false', undefined, { method: 'DELETE' });
    assert.equal(del.status, 202);
    assert.deepEqual(del.body, { status: 'terminating', id: 'sb-1' });
    assert.deepEqual((await t.call('/v1/sandboxes')).body, []);
    const unknown = await t.call('/v1/sandboxes/sb-1?wait=false', undefined, { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    const t = makeTestApp();
    const unknown = await t.call('/v1/sandboxes/sb-9', undefined, { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
    assert.equal(unknown.body.error.cause, 'sandbox "sb-9" not found');
    const malformed = await t.call('/v1/sandboxes/..%2Fx', undefined, { method: 'DELETE' });
    assert.equal(malformed.status, 400);
  });
});

describe('POST /v1/fork with Idempotency-Key', () => {
  it('replays: same key with a different requested id returns the first id', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const headers = { 'Idempotency-Key': 'a'.repeat(32) };
    const first = await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers });
    const again = await t.call('/v1/fork', { template: 'python', id: 'sb-2' }, { headers });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, 'sb-1');
    assert.equal(first.body.id, 'sb-1');
    assert.equal(t.engine.createCalls.length, 1);
  });

  it('creates a new sandbox for a different key', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers: { 'Idempotency-Key': 'k1' } });
    const other = await t.call(
      '/v1/fork',
      { template: 'python', id: 'sb-2' },
      { headers: { 'Idempotency-Key': 'k2' } },
    );
    assert.equal(other.body.id, 'sb-2');
    assert.equal(t.engine.createCalls.length, 2);
  });

  it('answers 409 idempotency_in_flight while the first request is still running', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    let open!: () => void;
    t.engine.createGate = new Promise((resolve) => {
      open = resolve;
    });
    const headers = { 'Idempotency-Key': 'k-busy' };
    const first = t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers });
    await waitFor(() => t.engine.createCalls.length === 1);
    const second = await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'idempotency_in_flight');
    open();
    assert.equal((await first).status, 200);
    const replay = await t.call('/v1/fork', { template: 'python', id: 'sb-x' }, { headers });
    assert.equal(replay.body.id, 'sb-1');
  });

  it('releases the key when the create fails', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const headers = { 'Idempotency-Key': 'k-retry' };
    t.engine.failNextCreate = new MitosError('capacity_exhausted', 'full');
    assert.equal((await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers })).status, 503);
    const retry = await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.id, 'sb-1');
  });

  it('does not consume the key on a 404 template either', async () => {
    const t = makeTestApp();
    const headers = { 'Idempotency-Key': 'k-early' };
    assert.equal((await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers })).status, 404);
    await withTemplate(t);
    assert.equal((await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers })).status, 200);
  });

  it('rebinds the key with the new body once the sandbox was deleted', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const headers = { 'Idempotency-Key': 'k-rebind' };
    await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers });
    await t.call('/v1/sandboxes/sb-1', undefined, { method: 'DELETE' });
    const again = await t.call('/v1/fork', { template: 'python', id: 'sb-2' }, { headers });
    assert.equal(again.body.id, 'sb-2');
    const replay = await t.call('/v1/fork', { template: 'python', id: 'sb-3' }, { headers });
    assert.equal(replay.body.id, 'sb-2');
  });

  it('treats a template key as unknown for a fork', async () => {
    const t = makeTestApp();
    const headers = { 'Idempotency-Key': 'k-shared' };
    await t.call('/v1/templates', { id: 'python' }, { headers });
    const fork = await t.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers });
    assert.equal(fork.status, 200);
    assert.equal(fork.body.id, 'sb-1');
    assert.equal(fork.body.template_id, 'python');
  });

  it('rejects a malformed key', async () => {
    const t = makeTestApp();
    await withTemplate(t);
    const res = await t.call(
      '/v1/fork',
      { template: 'python', id: 'sb-1' },
      { headers: { 'Idempotency-Key': 'x'.repeat(300) } },
    );
    assert.equal(res.status, 400);
  });

  it('survives a restart: a new app over the same database replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mitos-server-test-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.db');
    const engine = new FakeEngine();
    await engine.ensureTemplate({ id: 'python' });
    const headers = { 'Idempotency-Key': 'k-durable' };

    const before = makeTestApp({ engine, db: new Database(file) });
    assert.equal((await before.call('/v1/fork', { template: 'python', id: 'sb-1' }, { headers })).body.id, 'sb-1');
    before.db.close();

    const afterRestart = makeTestApp({ engine, db: new Database(file) });
    const replay = await afterRestart.call('/v1/fork', { template: 'python', id: 'sb-2' }, { headers });
    assert.equal(replay.body.id, 'sb-1');
    assert.equal(engine.createCalls.length, 1);
    afterRestart.db.close();
  });
});

describe('GET /v1/sandboxes/{id}', () => {
  it('answers the record with state, lineage and deadline_unix (0 = none)', async () => {
    const t = makeTestApp({ publicUrl: 'http://127.0.0.1:9999' });
    await withTemplate(t);
    await t.call('/v1/fork', { template: 'python', id: 'sb-1' });
    const res = await t.call('/v1/sandboxes/sb-1');
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 'sb-1');
    assert.equal(res.body.template_id, 'python');
    assert.equal(res.body.state, 'running');
    assert.equal(res.body.hostname, 'sb-1');
    assert.equal(res.body.parent_id, null);
    assert.equal(res.body.generation, 0);
    assert.equal(res.body.deadline_unix, 0);
    assert.equal(res.body.endpoint, 'http://127.0.0.1:9999');

    await t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds: 60 });
    assert.ok((await t.call('/v1/sandboxes/sb-1')).body.deadline_unix > 0);
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/sandboxes/ghost');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
    assert.equal((await t.call('/v1/sandboxes/-bad')).status, 400);
  });

  it("refuses the 0.3.x clients' region instead of ignoring it", async () => {
    const t = makeTestApp();
    await t.engine.ensureTemplate({ id: 'python' });
    const res = await t.call('/v1/fork', { template: 'python', region: 'fra' });
    assert.equal(res.status, 501);
    assert.equal(res.body.error.code, 'not_implemented');
    assert.equal(t.engine.createCalls.length, 0);
  });
});
