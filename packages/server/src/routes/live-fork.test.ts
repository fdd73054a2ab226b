import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveForkResponseSchema } from '@mitos/protocol';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

describe('POST /v1/sandboxes/{id}/fork', () => {
  it('forks a running sandbox into children and reports what was carried', async () => {
    const t = makeTestApp({ publicUrl: 'http://127.0.0.1:7000' });
    await withSandbox(t);
    const res = await t.call('/v1/sandboxes/sb-1/fork', { count: 2, ids: ['kid-a', 'kid-b'] });
    assert.equal(res.status, 200);
    assert.equal(res.body.parent.id, 'sb-1');
    assert.deepEqual(
      res.body.children.map((c: { id: string; parent_id: string; generation: number }) => [
        c.id,
        c.parent_id,
        c.generation,
      ]),
      [
        ['kid-a', 'sb-1', 1],
        ['kid-b', 'sb-1', 1],
      ],
    );
    assert.equal(res.body.children[0].endpoint, 'http://127.0.0.1:7000');
    assert.equal(res.body.fork_time_ms, 2.5);
    assert.deepEqual(res.body.carried, {
      filesystem: true,
      interpreter: true,
      interpreter_skipped: ['sock'],
      processes: false,
      processes_not_carried: [],
      connections: false,
    });
    // The parent is held still while it is copied unless the body says otherwise.
    assert.deepEqual(t.engine.forkCalls[0]?.options, { count: 2, ids: ['kid-a', 'kid-b'], pauseSource: true });
    assert.equal(res.body.pause_source, true);
    // The answer is the contract's schema, field for field (parsing drops what it does not declare).
    assert.deepEqual(LiveForkResponseSchema.parse(res.body), res.body);
  });

  it('defaults to one child, and takes the count from ids', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const one = await t.call('/v1/sandboxes/sb-1/fork', {});
    assert.equal(one.body.children.length, 1);
    await t.call('/v1/sandboxes/sb-1/fork', { ids: ['x1', 'x2', 'x3'] });
    assert.deepEqual(t.engine.forkCalls[1]?.options, { count: 3, ids: ['x1', 'x2', 'x3'], pauseSource: true });
  });

  it('passes the processes mode to the engine and refuses an unknown one', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    for (const processes of ['all', 'none', 'auto'] as const) {
      const res = await t.call('/v1/sandboxes/sb-1/fork', { count: 1, processes });
      assert.equal(res.status, 200, processes);
      assert.equal(t.engine.forkCalls.at(-1)?.options.processes, processes);
    }
    const bad = await t.call('/v1/sandboxes/sb-1/fork', { count: 1, processes: 'some' });
    assert.equal(bad.status, 400);
    assert.equal(t.engine.forkCalls.length, 3);
  });

  it('refuses bad counts and ids with 400', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    for (const body of [
      { count: 0 },
      { count: 65 },
      { count: 1.5 },
      { count: 2, ids: ['a'] },
      { ids: ['a', 'a'] },
      { ids: ['../x'] },
      { ids: [] },
    ]) {
      const res = await t.call('/v1/sandboxes/sb-1/fork', body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal(t.engine.forkCalls.length, 0);
  });

  it('answers 404 for an unknown parent, 409 for a paused one, 409 conflict for a taken id', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    assert.equal((await t.call('/v1/sandboxes/ghost/fork', {})).status, 404);
    const taken = await t.call('/v1/sandboxes/sb-1/fork', { ids: ['sb-1'] });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, 'conflict');
    await t.engine.pause('sb-1');
    const paused = await t.call('/v1/sandboxes/sb-1/fork', {});
    assert.equal(paused.status, 409);
    assert.equal(paused.body.error.code, 'sandbox_not_running');
  });

  it('replays under the same Idempotency-Key while the children live, and forks anew after', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const headers = { 'Idempotency-Key': 'live-1' };
    const first = await t.call('/v1/sandboxes/sb-1/fork', { ids: ['c1', 'c2'] }, { headers });
    const replay = await t.call('/v1/sandboxes/sb-1/fork', { ids: ['other'] }, { headers });
    assert.equal(replay.status, 200);
    assert.deepEqual(replay.body, first.body);
    assert.equal(t.engine.forkCalls.length, 1);

    await t.engine.terminate('c2');
    const fresh = await t.call('/v1/sandboxes/sb-1/fork', { ids: ['c3'] }, { headers });
    assert.deepEqual(
      fresh.body.children.map((c: { id: string }) => c.id),
      ['c3'],
    );
    assert.equal(t.engine.forkCalls.length, 2);
  });

  it('does not share keys with POST /v1/fork', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const headers = { 'Idempotency-Key': 'shared' };
    assert.equal((await t.call('/v1/fork', { template: 'python', id: 'sb-2' }, { headers })).status, 200);
    const live = await t.call('/v1/sandboxes/sb-1/fork', { ids: ['c1'] }, { headers });
    assert.equal(live.status, 200);
    assert.equal(live.body.children[0].id, 'c1');
  });
});

describe('default lifetime', () => {
  it('gives every sandbox /v1/fork and live forks create a deadline of now + N', async () => {
    const t = makeTestApp({ defaultLifetimeSeconds: 120 });
    await withSandbox(t);
    const now = Date.now();
    assert.equal((await t.call('/v1/fork', { template: 'python', id: 'sb-2' })).status, 200);
    assert.equal((await t.call('/v1/sandboxes/sb-1/fork', { ids: ['c1', 'c2'] })).status, 200);
    for (const id of ['sb-2', 'c1', 'c2']) {
      const deadline = t.engine.deadlines.get(id)?.getTime() ?? 0;
      assert.ok(deadline >= now + 120_000 && deadline < now + 125_000, id);
    }
    const detail = await t.call('/v1/sandboxes/c1');
    assert.equal(detail.body.deadline_unix, Math.floor((t.engine.deadlines.get('c1')?.getTime() ?? 0) / 1000));
  });

  it('is off by default', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    await t.call('/v1/fork', { template: 'python', id: 'sb-2' });
    assert.equal(t.engine.deadlines.size, 0);
  });

  it("takes the 0.3.x clients' body {id, template, pause_source}: one child, its record at the top level", async () => {
    const t = makeTestApp({ publicUrl: 'http://127.0.0.1:7000' });
    await withSandbox(t);
    const res = await t.call(
      '/v1/sandboxes/sb-1/fork',
      { id: 'sandbox-ab12cd34', template: 'python', pause_source: false },
      { headers: { 'Idempotency-Key': 'one' } },
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.id, 'sandbox-ab12cd34');
    assert.equal(res.body.template_id, 'python');
    assert.equal(res.body.endpoint, 'http://127.0.0.1:7000');
    assert.equal(typeof res.body.created_at, 'string');
    assert.ok(res.body.fork_time_ms > 0);
    assert.equal(res.body.parent.id, 'sb-1');
    assert.equal(res.body.children[0].id, 'sandbox-ab12cd34');
    assert.equal(res.body.pause_source, false);
    assert.deepEqual(t.engine.forkCalls[0]?.options, { count: 1, ids: ['sandbox-ab12cd34'], pauseSource: false });
    const again = await t.call(
      '/v1/sandboxes/sb-1/fork',
      { id: 'sandbox-ab12cd34', template: 'python', pause_source: false },
      { headers: { 'Idempotency-Key': 'one' } },
    );
    assert.equal(again.body.id, 'sandbox-ab12cd34');
    assert.equal(t.engine.forkCalls.length, 1);
  });

  it('refuses a mixed body, another template, and a non-boolean pause_source', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    for (const body of [
      { id: 'x1', count: 2 },
      { id: 'x1', template: 'node' },
      { id: 'x1', pause_source: 'yes' },
      { id: '../x' },
    ]) {
      const res = await t.call('/v1/sandboxes/sb-1/fork', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'invalid_json');
    }
    assert.equal(t.engine.forkCalls.length, 0);
  });
});
