import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { rawErrno, result } from '@mitos/testkit';
import {
  aborted,
  gate,
  lineReader,
  makeTestApp,
  ndjson,
  startLiveServer,
  waitFor,
  withSandbox,
} from '@mitos/testkit/server';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('POST /v1/exec/stream', () => {
  it('streams chunk lines as produced and ends with exactly one terminal line', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = (_cmd, options) => {
      options.onStdout?.(Buffer.from('out1\n'));
      options.onStderr?.(Buffer.from([0xff, 0x00]));
      options.onStdout?.(Buffer.from('out2\n'));
      return result(3, 'out1\nout2\n', '');
    };
    const res = await t.app.request('/v1/exec/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', command: 'x', timeout: 5 }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = ndjson(await res.text());
    assert.deepEqual(lines, [
      { stream: 'stdout', data: b64('out1\n') },
      { stream: 'stderr', data: Buffer.from([0xff, 0x00]).toString('base64') },
      { stream: 'stdout', data: b64('out2\n') },
      { exit_code: 3, exec_time_ms: 2.5, error: '' },
    ]);
    assert.equal(t.engine.execCalls[0]?.timeoutMs, 5000);
  });

  it('reports a timed-out command as a normal terminal line with exit code 124', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = () => ({ ...result(124, '', ''), timedOut: true });
    const lines = ndjson(await (await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'sleep 9' })).text);
    assert.deepEqual(lines, [{ exit_code: 124, exec_time_ms: 2.5, error: '' }]);
  });

  it('turns an engine failure after the 200 into a terminal line with exit code 1 and an error', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    t.engine.onExec = (_cmd, options) => {
      options.onStdout?.(Buffer.from('partial'));
      throw rawErrno('EPIPE', -32, '/var/lib/mitos/run/agent.sock');
    };
    const res = await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'x' });
    assert.equal(res.status, 200);
    const lines = ndjson(res.text);
    assert.equal(lines.length, 2);
    assert.equal(lines[1].exit_code, 1);
    assert.match(lines[1].error, /^exec stream failed: EPIPE/);
    assert.doesNotMatch(res.text, /agent\.sock/);
  });

  it('answers pre-stream failures as envelopes: 400, timeout_too_large, 404, 409 paused', async () => {
    const t = makeTestApp({ maxExecTimeoutSeconds: 60 });
    await withSandbox(t);
    const bad = await t.call('/v1/exec/stream', { sandbox: 'sb-1' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_json');

    const tooLong = await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'x', timeout: 61 });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.code, 'timeout_too_large');

    const unknown = await t.call('/v1/exec/stream', { sandbox: 'sb-9', command: 'x' });
    assert.equal(unknown.status, 404);

    await t.engine.pause('sb-1');
    const paused = await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'x' });
    assert.equal(paused.status, 409);
    assert.equal(paused.body.error.code, 'sandbox_not_running');
    assert.equal(t.engine.execCalls.length, 0);
  });

  it('caps open streams per sandbox with 429 too_many_streams and frees the slot when a stream ends', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 1 });
    await withSandbox(t);
    const hold = gate();
    t.engine.onExec = async () => {
      await hold.promise;
      return result(0, '', '');
    };
    const first = await t.app.request('/v1/exec/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', command: 'x' }),
    });
    assert.equal(first.status, 200);
    const second = await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'y' });
    assert.equal(second.status, 429);
    assert.equal(second.body.error.code, 'too_many_streams');
    assert.deepEqual(second.body.error.context, { sandbox: 'sb-1' });

    hold.open();
    assert.deepEqual(ndjson(await first.text()), [{ exit_code: 0, exec_time_ms: 2.5, error: '' }]);
    t.engine.onExec = () => result(0, '', '');
    assert.equal((await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'z' })).status, 200);
  });

  it('has no cap when maxStreamsPerSandbox is 0', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 0 });
    await withSandbox(t);
    const hold = gate();
    t.engine.onExec = async () => {
      await hold.promise;
      return result(0, '', '');
    };
    const open = [];
    for (let i = 0; i < 20; i++) {
      open.push(
        await t.app.request('/v1/exec/stream', {
          method: 'POST',
          body: JSON.stringify({ sandbox: 'sb-1', command: 'x' }),
        }),
      );
    }
    assert.ok(open.every((res) => res.status === 200));
    hold.open();
    await Promise.all(open.map((res) => res.text()));
  });

  it('aborts the command and frees the slot when the client cancels the body', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 1 });
    await withSandbox(t);
    t.engine.onExec = async (_cmd, options) => {
      options.onStdout?.(Buffer.from('started'));
      await aborted(options.signal as AbortSignal);
      throw new MitosError('canceled', 'killed');
    };
    const res = await t.app.request('/v1/exec/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', command: 'sleep 100' }),
    });
    const lines = lineReader(res.body as ReadableStream<Uint8Array>);
    assert.deepEqual(await lines.next(), { stream: 'stdout', data: b64('started') });
    await lines.cancel();
    await waitFor(() => t.engine.execCalls[0]?.signal?.aborted === true);
    t.engine.onExec = () => result(0, '', '');
    assert.equal((await t.call('/v1/exec/stream', { sandbox: 'sb-1', command: 'x' })).status, 200);
  });

  it('ends the stream with a failure line when the sandbox is terminated mid-command', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const running = gate();
    t.engine.onExec = async (_cmd, options) => {
      running.open();
      await aborted(options.signal as AbortSignal);
      return { ...result(137, '', ''), durationMs: 1 };
    };
    const res = await t.app.request('/v1/exec/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', command: 'sleep 100' }),
    });
    await running.promise;
    await t.engine.terminate('sb-1');
    const lines = ndjson(await res.text());
    assert.equal(lines.length, 1);
    assert.equal(lines[0].exit_code, 1);
    assert.match(lines[0].error, /sb-1.*terminated/);
  });
});

describe('POST /v1/exec/stream over HTTP', () => {
  it('flushes every line as it is produced', async () => {
    const live = await startLiveServer();
    try {
      const next = gate();
      live.engine.onExec = async (_cmd, options) => {
        options.onStdout?.(Buffer.from('first'));
        await next.promise;
        options.onStdout?.(Buffer.from('second'));
        return result(0, '', '');
      };
      const res = await fetch(`${live.url}/v1/exec/stream`, {
        method: 'POST',
        body: JSON.stringify({ sandbox: 'sb-1', command: 'x' }),
      });
      assert.match(res.headers.get('transfer-encoding') ?? '', /chunked/);
      const lines = lineReader(res.body as ReadableStream<Uint8Array>);
      // The engine is still holding the second chunk: the first line arrived on its own.
      assert.deepEqual(await lines.next(), { stream: 'stdout', data: b64('first') });
      next.open();
      assert.deepEqual(await lines.next(), { stream: 'stdout', data: b64('second') });
      assert.equal((await lines.next()).exit_code, 0);
      assert.equal(await lines.next(), undefined);
    } finally {
      await live.close();
    }
  });

  it('aborts the command when the client drops the connection', async () => {
    const live = await startLiveServer();
    try {
      const signalSeen = gate<AbortSignal>();
      live.engine.onExec = async (_cmd, options) => {
        options.onStdout?.(Buffer.from('up'));
        signalSeen.open(options.signal as AbortSignal);
        await aborted(options.signal as AbortSignal);
        return result(137, '', '');
      };
      const client = new AbortController();
      const res = await fetch(`${live.url}/v1/exec/stream`, {
        method: 'POST',
        body: JSON.stringify({ sandbox: 'sb-1', command: 'sleep 100' }),
        signal: client.signal,
      });
      const lines = lineReader(res.body as ReadableStream<Uint8Array>);
      await lines.next();
      client.abort();
      await aborted(await signalSeen.promise);
    } finally {
      await live.close();
    }
  });
});
