import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FakeProcess } from '@mitos/testkit';
import { lineReader, makeTestApp, ndjson, type TestApp, waitFor, withSandbox } from '@mitos/testkit/server';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function started(t: TestApp, command = 'sleep 100'): Promise<FakeProcess> {
  const res = await t.call('/v1/processes', { sandbox: 'sb-1', command });
  assert.equal(res.status, 200);
  return t.engine.processes.get(res.body.pid) as FakeProcess;
}

describe('background processes', () => {
  it('POST /v1/processes starts a process without a deadline and answers its pid', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const res = await t.call('/v1/processes', {
      sandbox: 'sb-1',
      command: 'python -m http.server',
      working_dir: '/srv',
      env: { A: '1' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ['pid']);
    const process = t.engine.processes.get(res.body.pid);
    assert.deepEqual(process?.options, {
      command: 'python -m http.server',
      cwd: '/srv',
      env: { A: '1' },
      timeoutMs: 0,
    });
  });

  it('GET /v1/processes lists tracked and untracked processes', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const process = await started(t, 'sleep 5');
    t.engine.untracked = [{ pid: 1, command: '/sbin/mitos-agent', tracked: false }];
    const res = await t.call('/v1/processes?sandbox=sb-1');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.processes, [
      { pid: process.pid, command: 'sleep 5', tracked: true, started_at: process.startedAt.toISOString() },
      { pid: 1, command: '/sbin/mitos-agent', tracked: false },
    ]);
    assert.equal((await t.call('/v1/processes?sandbox=ghost')).status, 404);
    assert.equal((await t.call('/v1/processes')).status, 400);
  });

  it('POST /v1/processes/signal signals a process (default SIGKILL) and 404s an unknown pid', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const a = await started(t);
    const b = await started(t);
    assert.deepEqual((await t.call('/v1/processes/signal', { sandbox: 'sb-1', pid: a.pid })).body, { status: 'ok' });
    await t.call('/v1/processes/signal', { sandbox: 'sb-1', pid: b.pid, signal: 15 });
    assert.deepEqual([a.signals, b.signals], [[9], [15]]);
    const missing = await t.call('/v1/processes/signal', { sandbox: 'sb-1', pid: 4242 });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not_found');
    assert.equal((await t.call('/v1/processes/signal', { sandbox: 'sb-1', pid: a.pid, signal: 99 })).status, 400);
  });

  it('POST /v1/processes/stream replays the output so far, follows it, and ends with the exit', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const process = await started(t);
    process.emit('stdout', 'before\n');
    const res = await t.app.request('/v1/processes/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', pid: process.pid }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = lineReader(res.body as ReadableStream<Uint8Array>);
    assert.deepEqual(await lines.next(), { stream: 'stdout', data: b64('before\n') });
    process.emit('stderr', 'live\n');
    assert.deepEqual(await lines.next(), { stream: 'stderr', data: b64('live\n') });
    process.exit(0);
    assert.deepEqual(await lines.next(), { exit_code: 0, exec_time_ms: 7, error: '' });
    assert.equal(await lines.next(), undefined);
  });

  it('attaching to a process that already exited replays everything and the terminal line', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const process = await started(t);
    process.emit('stdout', 'all\n');
    process.exit(3);
    const res = await t.call('/v1/processes/stream', { sandbox: 'sb-1', pid: process.pid });
    assert.deepEqual(ndjson(res.text), [
      { stream: 'stdout', data: b64('all\n') },
      { exit_code: 3, exec_time_ms: 7, error: '' },
    ]);
  });

  it('closing the stream detaches without killing the process and frees the slot', async () => {
    const t = makeTestApp({ maxStreamsPerSandbox: 1 });
    await withSandbox(t);
    const process = await started(t);
    const res = await t.app.request('/v1/processes/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', pid: process.pid }),
    });
    const capped = await t.call('/v1/processes/stream', { sandbox: 'sb-1', pid: process.pid });
    assert.equal(capped.status, 429);
    await res.body?.cancel();
    await waitFor(() => process.listenerCount === 0);
    assert.equal(process.exited, false);
    assert.deepEqual(process.signals, []);
    const again = await t.app.request('/v1/processes/stream', {
      method: 'POST',
      body: JSON.stringify({ sandbox: 'sb-1', pid: process.pid }),
    });
    assert.equal(again.status, 200);
    await again.body?.cancel();
  });

  it('answers 404 for a pid the engine does not track', async () => {
    const t = makeTestApp();
    await withSandbox(t);
    const res = await t.call('/v1/processes/stream', { sandbox: 'sb-1', pid: 77 });
    assert.equal(res.status, 404);
    assert.deepEqual(res.body.error.context, { sandbox: 'sb-1', pid: 77 });
  });
});
