import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { codeOutcome } from '@mitos/testkit';
import { makeTestApp, ndjson, withSandbox } from '@mitos/testkit/server';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('POST /v1/run_code/stream', () => {
  it('streams output, results, the error and the exit frame', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onRunCode = (options) => {
      options.onStdout?.(Buffer.from('hello\n'));
      options.onStderr?.(Buffer.from('warn\n'));
      options.onResult?.({ data: { 'image/png': 'iVBORw0=' }, isMainResult: false });
      options.onResult?.({ text: '42', data: { 'text/plain': '42' }, isMainResult: true });
      return codeOutcome(1, {
        stdout: Buffer.from('hello\n'),
        stderr: Buffer.from('warn\n'),
        error: { name: 'ValueError', value: 'bad', traceback: ['line 1'] },
      });
    };
    const res = await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'x', language: 'python', timeout: 9 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    assert.deepEqual(ndjson(res.text), [
      { kind: 'stdout', stdout: b64('hello\n') },
      { kind: 'stderr', stderr: b64('warn\n') },
      { kind: 'result', result: { data: { 'image/png': 'iVBORw0=' } } },
      { kind: 'result', result: { text: '42', data: { 'text/plain': '42' } } },
      { kind: 'error', error: { name: 'ValueError', value: 'bad', traceback: ['line 1'] } },
      { kind: 'exit', exit_code: 1 },
    ]);
    assert.equal(t.engine.runCodeCalls[0]?.timeoutMs, 9000);
    assert.equal(t.engine.runCodeCalls[0]?.code, 'x');
  });

  it('omits empty result keys, an empty traceback, and text on a non-main result', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onRunCode = (options) => {
      options.onResult?.({ text: 'ignored', data: {}, isMainResult: false });
      return codeOutcome(1, { error: { name: 'TimeoutError', value: 'too slow', traceback: [] } });
    };
    const lines = ndjson((await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'x' })).text);
    assert.deepEqual(lines, [
      { kind: 'result', result: {} },
      { kind: 'error', error: { name: 'TimeoutError', value: 'too slow' } },
      { kind: 'exit', exit_code: 1 },
    ]);
  });

  it('defaults the language to python and the timeout to 60 s when 0 or absent', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: '1' });
    await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: '1', timeout: 0, language: '' });
    assert.deepEqual(
      t.engine.runCodeCalls.map((c) => [c.language, c.timeoutMs]),
      [
        ['python', 60_000],
        ['python', 60_000],
      ],
    );
  });

  it('sends what only the outcome holds, without repeating what the callbacks sent', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onRunCode = (options) => {
      options.onStdout?.(Buffer.from('ab'));
      return codeOutcome(0, {
        stdout: Buffer.from('abcd'),
        results: [{ text: '1', data: { 'text/plain': '1' }, isMainResult: true }],
      });
    };
    const lines = ndjson((await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'x' })).text);
    assert.deepEqual(lines, [
      { kind: 'stdout', stdout: b64('ab') },
      { kind: 'stdout', stdout: b64('cd') },
      { kind: 'result', result: { text: '1', data: { 'text/plain': '1' } } },
      { kind: 'exit', exit_code: 0 },
    ]);
  });

  it('reports a language without a kernel as KernelUnavailable, exit 127, inside the stream', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onRunCode = () => {
      throw new MitosError(
        'invalid_request',
        'language "cobol" is not supported; use python, javascript or typescript',
      );
    };
    const res = await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'x', language: 'cobol' });
    assert.equal(res.status, 200);
    const lines = ndjson(res.text);
    assert.equal(lines[0].kind, 'error');
    assert.equal(lines[0].error.name, 'KernelUnavailable');
    assert.match(lines[0].error.value, /cobol/);
    assert.deepEqual(lines[1], { kind: 'exit', exit_code: 127 });
  });

  it('reports a failure after output as KernelStreamError, exit 1', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onRunCode = (options) => {
      options.onStdout?.(Buffer.from('x'));
      throw new MitosError('exec_failed', 'kernel died');
    };
    const lines = ndjson((await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'x' })).text);
    assert.deepEqual(lines.slice(1), [
      { kind: 'error', error: { name: 'KernelStreamError', value: 'kernel died' } },
      { kind: 'exit', exit_code: 1 },
    ]);
  });

  it('answers pre-stream failures as envelopes and counts against the stream cap', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 1, maxExecTimeoutSeconds: 100 });
    await withSandbox(t);
    assert.equal((await t.call('/v1/run_code/stream', { sandbox: 'sb-1' })).status, 400);
    const tooLong = await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'x', timeout: 101 });
    assert.equal(tooLong.body.error.code, 'timeout_too_large');
    assert.equal((await t.call('/v1/run_code/stream', { sandbox: 'nope', code: 'x' })).status, 404);

    let finish: () => void = () => {};
    t.engine.onRunCode = () =>
      new Promise((resolve) => {
        finish = () => resolve(codeOutcome(0));
      });
    const open = await t.app.request('/v1/run_code/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', code: 'x' }),
    });
    const capped = await t.call('/v1/run_code/stream', { sandbox: 'sb-1', code: 'y' });
    assert.equal(capped.status, 429);
    assert.equal(capped.body.error.code, 'too_many_streams');
    finish();
    await open.text();
  });
});
