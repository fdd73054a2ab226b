import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { rawErrno, result, timedOut } from '@mitos/testkit';
import { makeTestApp, withSandbox } from '@mitos/testkit/server';

describe('POST /v1/exec', () => {
  it('runs the command and answers exit code, output and time', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = () => result(3, 'out\n', 'err\n');
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'false', timeout: 10 });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { exit_code: 3, stdout: 'out\n', stderr: 'err\n', exec_time_ms: 2.5 });
  });

  it('passes command, working_dir, env and the timeout in ms to the engine', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    await t.call('/v1/exec', { sandbox: 'sb-1', command: 'pwd', timeout: 7, working_dir: '/tmp', env: { A: '1' } });
    const call = t.engine.execCalls[0];
    assert.equal(call?.command, 'pwd');
    assert.equal(call?.cwd, '/tmp');
    assert.deepEqual(call?.env, { A: '1' });
    assert.equal(call?.timeoutMs, 7000);
    assert.ok(call?.signal instanceof AbortSignal);
  });

  it('defaults the timeout to 30 s when it is 0 or absent', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    await t.call('/v1/exec', { sandbox: 'sb-1', command: 'true' });
    await t.call('/v1/exec', { sandbox: 'sb-1', command: 'true', timeout: 0 });
    assert.deepEqual(
      t.engine.execCalls.map((c) => c.timeoutMs),
      [30_000, 30_000],
    );
  });

  it('decodes invalid UTF-8 output with replacement characters', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = () => result(0, Buffer.from([0x68, 0xff, 0x69]), '');
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' });
    assert.equal(res.body.stdout, 'h\uFFFDi');
  });

  it('refuses a timeout above the ceiling with 400 timeout_too_large and its context', async () => {
    const t = makeTestApp({ maxExecTimeoutSeconds: 600 });
    await withSandbox(t);
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x', timeout: 601 });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'timeout_too_large');
    assert.deepEqual(res.body.error.context, { sandbox: 'sb-1', requested_s: 601, max_timeout_s: 600 });
    assert.equal(t.engine.execCalls.length, 0);
  });

  it('checks the ceiling before the sandbox exists (the seed order)', async () => {
    const t = makeTestApp();
    const res = await t.call('/v1/exec', { sandbox: 'sb-9', command: 'x', timeout: 86_401 });
    assert.equal(res.body.error.code, 'timeout_too_large');
  });

  it('has no ceiling when it is 0', async () => {
    const t = makeTestApp({ maxExecTimeoutSeconds: 0 });
    await withSandbox(t);
    assert.equal((await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x', timeout: 100_000 })).status, 200);
  });

  it('rejects a negative or fractional timeout', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    for (const timeout of [-1, 1.5]) {
      assert.equal((await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x', timeout })).status, 400);
    }
  });

  it('answers 404 not_found for an unknown sandbox and 400 for a malformed id', async () => {
    const t = makeTestApp();
    const unknown = await t.call('/v1/exec', { sandbox: 'sb-9', command: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
    for (const sandbox of ['../x', 'a\u0000', '']) {
      assert.equal((await t.call('/v1/exec', { sandbox, command: 'x' })).status, 400);
    }
  });

  it('answers 504 exec_timeout when the command hit its deadline', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = () => timedOut();
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'sleep 99', timeout: 2 });
    assert.equal(res.status, 504);
    assert.equal(res.body.error.code, 'exec_timeout');
    assert.deepEqual(res.body.error.context, { sandbox: 'sb-1', timeout_s: 2 });
  });

  it('keeps a command that exits 124 by itself a normal result', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = () => result(124, '', '');
    const res = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'exit 124' });
    assert.equal(res.status, 200);
    assert.equal(res.body.exit_code, 124);
  });

  it('passes engine MitosErrors through and maps raw failures to exec_failed', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = () => {
      throw new MitosError('sandbox_not_running', 'sandbox is paused', { sandbox: 'sb-1' });
    };
    const paused = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' });
    assert.equal(paused.status, 409);
    assert.equal(paused.body.error.code, 'sandbox_not_running');

    t.engine.onExec = () => {
      throw rawErrno('EAGAIN', -11, '/var/lib/mitos/agent.sock');
    };
    const raw = await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' });
    assert.equal(raw.status, 500);
    assert.equal(raw.body.error.code, 'exec_failed');
    assert.deepEqual(raw.body.error.context, { sandbox: 'sb-1' });
    assert.doesNotMatch(raw.text, /agent\.sock/);
  });

  it('tags the request log line with the sandbox id', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    await t.call('/v1/exec', { sandbox: 'sb-1', command: 'x' });
    const line = JSON.parse(t.lines.at(-1) ?? '{}');
    assert.equal(line.sandbox, 'sb-1');
    assert.equal(line.route, '/v1/exec');
  });
});
