import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

describe('POST /v1/set_timeout', () => {
  it('sets the engine deadline and answers deadline_unix', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const before = Math.floor(Date.now() / 1000);
    const res = await t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds: 600 });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ok');
    assert.equal(res.body.timeout_seconds, 600);
    assert.ok(Number.isInteger(res.body.deadline_unix));
    assert.ok(res.body.deadline_unix >= before + 600 && res.body.deadline_unix <= before + 601);
    assert.equal(Math.floor((t.engine.deadlines.get('sb-1')?.getTime() ?? 0) / 1000), res.body.deadline_unix);
  });

  it('refuses zero and negative values with 400 invalid_json', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    for (const timeout_seconds of [0, -5]) {
      const res = await t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'invalid_json');
    }
    assert.equal((await t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds: 1.5 })).status, 400);
    assert.equal(t.engine.deadlines.size, 0);
  });

  it('refuses a value over the ceiling with 400 timeout_too_large, never clamping', async () => {
    const t = makeTestApp({ maxExecTimeoutSeconds: 3600 });
    await withSandbox(t);
    const res = await t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds: 3601 });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'timeout_too_large');
    assert.deepEqual(res.body.error.context, { sandbox: 'sb-1', requested_s: 3601, max_timeout_s: 3600 });
    assert.equal(t.engine.deadlines.size, 0);
  });

  it("answers 404 for an unknown sandbox and sets a paused one's deadline (the engine's rule)", async () => {
    const t = makeTestApp();
    await withSandbox(t);
    assert.equal((await t.call('/v1/set_timeout', { sandbox: 'sb-9', timeout_seconds: 5 })).status, 404);
    await t.engine.pause('sb-1');
    const paused = await t.call('/v1/set_timeout', { sandbox: 'sb-1', timeout_seconds: 5 });
    assert.equal(paused.status, 200);
    assert.ok(t.engine.deadlines.has('sb-1'));
  });
});

describe('POST /v1/pause and /v1/resume', () => {
  it('pauses and resumes through the engine', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const paused = await t.call('/v1/pause', { sandbox: 'sb-1' });
    assert.equal(paused.status, 200);
    assert.deepEqual(paused.body, { status: 'paused' });
    assert.equal(t.engine.get('sb-1')?.state, 'paused');
    const resumed = await t.call('/v1/resume', { sandbox: 'sb-1' });
    assert.deepEqual(resumed.body, { status: 'running' });
    assert.equal(t.engine.get('sb-1')?.state, 'running');
  });

  it('answers 200 to resuming a running sandbox and to pausing a paused one (both no-ops)', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    assert.equal((await t.call('/v1/resume', { sandbox: 'sb-1' })).status, 200);
    await t.call('/v1/pause', { sandbox: 'sb-1' });
    const again = await t.call('/v1/pause', { sandbox: 'sb-1' });
    assert.deepEqual([again.status, again.body], [200, { status: 'paused' }]);
    assert.equal(t.engine.get('sb-1')?.state, 'paused');
  });

  it('answers 404 for unknown sandboxes (the seed answered 200 to anything)', async () => {
    const t = makeTestApp();
    for (const path of ['/v1/pause', '/v1/resume']) {
      const res = await t.call(path, { sandbox: 'ghost' });
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'not_found');
    }
  });

  it('refuses other sandbox-API calls while paused', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    await t.call('/v1/pause', { sandbox: 'sb-1' });
    const res = await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'x' });
    assert.equal(res.status, 409);
  });
});
