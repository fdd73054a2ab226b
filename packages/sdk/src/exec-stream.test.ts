import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AgentRunError, ExecutionDeadlineError } from './errors.js';
import type { ExecEvent } from './exec-stream.js';
import { parseExecLine } from './exec-stream.js';
import { HttpClient } from './http.js';
import { sandboxOn, TEST_KEY } from './test-support/sandbox-handle.js';
import { ndjsonLine, type StubReply, useStub } from './test-support/stub-server.js';

const stub = useStub();

const b64 = (s: string) => Buffer.from(s).toString('base64');
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

/** Write `lines`, then keep the response open; `closed` resolves when the client hangs up. */
function holdOpen(lines: unknown[]): { reply: StubReply; closed: Promise<void> } {
  let onClose: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    onClose = resolve;
  });
  const respond = (res: ServerResponse) => {
    res.on('close', onClose);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const l of lines) res.write(ndjsonLine(l));
  };
  return { reply: { respond }, closed };
}

describe('parseExecLine', () => {
  test('terminal iff exit_code and no stream; chunks default to stdout', () => {
    assert.deepEqual(parseExecLine({ exit_code: 0 }), { terminal: { exitCode: 0, execTimeMs: 0, error: '' } });
    assert.deepEqual(parseExecLine({ stream: 'stderr', data: b64('x') }), {
      stream: 'stderr',
      data: new Uint8Array([120]),
    });
    assert.deepEqual(parseExecLine({ stream: 'weird', data: '' }), { stream: 'stdout', data: new Uint8Array(0) });
    assert.equal('stream' in parseExecLine({ stream: 'stdout', exit_code: 3, data: '' }), true);
  });
});

describe('exec with callbacks (POST /v1/exec/stream)', () => {
  test('chunks reach the callbacks before the end, and the result aggregates them', async () => {
    stub.route = () => ({
      ndjson: [
        { stream: 'stdout', data: b64('hel') },
        { stream: 'stderr', data: b64('warn\n') },
        { stream: 'stdout', data: b64('lo\n') },
        { exit_code: 3, exec_time_ms: 12.5, error: '' },
      ],
    });
    const seen: string[] = [];
    const res = await sandboxOn(stub.baseUrl).exec('echo hello', {
      timeoutSeconds: 9,
      cwd: '/tmp',
      env: { A: '1' },
      onStdout: (b) => seen.push(`out:${text(b)}`),
      onStderr: (b) => seen.push(`err:${text(b)}`),
    });
    assert.deepEqual(seen, ['out:hel', 'err:warn\n', 'out:lo\n']);
    assert.deepEqual(res, { exitCode: 3, stdout: 'hello\n', stderr: 'warn\n', execTimeMs: 12.5 });
    const req = stub.requests[0];
    assert.equal(req?.url, '/v1/exec/stream');
    assert.deepEqual(req?.body, {
      sandbox: 'sb-1',
      command: 'echo hello',
      timeout: 9,
      working_dir: '/tmp',
      env: { A: '1' },
    });
  });

  test('without callbacks exec stays on /v1/exec', async () => {
    stub.route = () => ({ json: { exit_code: 0, stdout: 'x', stderr: '', exec_time_ms: 1 } });
    await sandboxOn(stub.baseUrl).exec('true');
    assert.equal(stub.requests[0]?.url, '/v1/exec');
  });

  test('the terminal frame on a connection the server keeps open resolves, then hangs up', async () => {
    // The real server's shape: the terminal line can arrive before the body's end.
    const held = holdOpen([
      { stream: 'stdout', data: b64('4\n') },
      { exit_code: 0, exec_time_ms: 1, error: '' },
    ]);
    stub.route = () => held.reply;
    const res = await sandboxOn(stub.baseUrl).exec('x', { onStdout: () => {} });
    assert.deepEqual(res, { exitCode: 0, stdout: '4\n', stderr: '', execTimeMs: 1 });
    await held.closed;
    // A socket error left without a listener would crash the process on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
  });

  test('a stream that ends without its terminal frame is exec_stream_truncated', async () => {
    stub.route = () => ({ ndjson: [{ stream: 'stdout', data: b64('partial') }] });
    const seen: string[] = [];
    await assert.rejects(
      sandboxOn(stub.baseUrl).exec('x', { onStdout: (b) => seen.push(text(b)) }),
      (err) => err instanceof AgentRunError && err.code === 'exec_stream_truncated' && err.status === undefined,
    );
    assert.deepEqual(seen, ['partial']);
  });

  test('a connection cut mid-stream is exec_stream_truncated too', async () => {
    stub.route = () => ({
      respond: (res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(ndjsonLine({ stream: 'stdout', data: b64('a') }), () => res.destroy());
      },
    });
    await assert.rejects(sandboxOn(stub.baseUrl).exec('x', { onStdout: () => {} }), {
      code: 'exec_stream_truncated',
    });
  });

  test('a terminal frame with an error is exec_stream_error, the key redacted', async () => {
    stub.route = () => ({ ndjson: [{ exit_code: 1, error: `exec stream failed: agent gone (${TEST_KEY})` }] });
    await assert.rejects(sandboxOn(stub.baseUrl).exec('x', { onStderr: () => {} }), (err) => {
      assert.ok(err instanceof AgentRunError);
      assert.equal(err.code, 'exec_stream_error');
      // Text from the server is quoted with the key removed, as error bodies are.
      assert.equal(err.errorCause, 'exec stream failed: agent gone ([REDACTED])');
      return true;
    });
  });

  test('terminal exit 124 is ExecutionDeadlineError', async () => {
    stub.route = () => ({
      ndjson: [
        { stream: 'stdout', data: b64('tick') },
        { exit_code: 124, exec_time_ms: 1000, error: '' },
      ],
    });
    await assert.rejects(sandboxOn(stub.baseUrl).exec('sleep 9', { timeoutSeconds: 1, onStdout: () => {} }), (err) => {
      assert.ok(err instanceof ExecutionDeadlineError);
      assert.equal(err.code, 'exec_timeout');
      assert.deepEqual(err.context, { sandbox: 'sb-1', timeout_s: 1 });
      return true;
    });
  });

  test('an error status before the stream maps through the envelope', async () => {
    stub.route = () => ({ status: 429, json: { error: { code: 'too_many_streams', message: 'm', remediation: 'r' } } });
    await assert.rejects(sandboxOn(stub.baseUrl).exec('x', { onStdout: () => {} }), {
      code: 'too_many_streams',
      status: 429,
    });
  });

  test('aborting the signal rejects with its reason and hangs up', async () => {
    const held = holdOpen([{ stream: 'stdout', data: b64('first') }]);
    stub.route = () => held.reply;
    const ctl = new AbortController();
    const reason = new Error('user stop');
    const run = sandboxOn(stub.baseUrl).exec('yes', { signal: ctl.signal, onStdout: () => ctl.abort(reason) });
    await assert.rejects(run, (err) => err === reason);
    await held.closed;
  });
});

describe('execStream', () => {
  test('yields chunks in order, then one {exit}', async () => {
    stub.route = () => ({
      ndjson: [
        { stream: 'stdout', data: b64('a') },
        { stream: 'stderr', data: b64('b') },
        { exit_code: 0, exec_time_ms: 2 },
      ],
    });
    const events: ExecEvent[] = [];
    for await (const ev of sandboxOn(stub.baseUrl).execStream('x')) events.push(ev);
    assert.deepEqual(events, [
      { stream: 'stdout', data: new Uint8Array([97]) },
      { stream: 'stderr', data: new Uint8Array([98]) },
      { exit: { exitCode: 0, stdout: 'a', stderr: 'b', execTimeMs: 2 } },
    ]);
  });

  test('breaking out of the loop drops the connection', async () => {
    const held = holdOpen([
      { stream: 'stdout', data: b64('1') },
      { stream: 'stdout', data: b64('2') },
    ]);
    stub.route = () => held.reply;
    let count = 0;
    for await (const _ of sandboxOn(stub.baseUrl).execStream('yes')) {
      count++;
      break;
    }
    assert.equal(count, 1);
    await held.closed;
  });

  test('a bad timeout throws at the call, before any request', () => {
    assert.throws(() => sandboxOn(stub.baseUrl).execStream('x', { timeoutSeconds: 86_401 }), {
      code: 'timeout_too_large',
    });
    assert.equal(stub.requests.length, 0);
  });
});

describe('HttpClient.stream clocks', () => {
  test('silence longer than the idle clock is request_timeout, and the connection is dropped', async () => {
    const held = holdOpen([{ stream: 'stdout', data: b64('once') }]);
    stub.route = () => held.reply;
    const stream = await new HttpClient({ baseUrl: stub.baseUrl }).stream('POST', '/v1/exec/stream', {
      body: {},
      idleTimeoutMs: 150,
    });
    const chunks: Uint8Array[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of stream) chunks.push(c);
      })(),
      { code: 'request_timeout' },
    );
    assert.equal(chunks.length, 1);
    await held.closed;
  });

  test('an abort while waiting for the response head rejects with the reason', async () => {
    let arrived: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    stub.route = () => {
      arrived();
      return { hang: true };
    };
    const ctl = new AbortController();
    const reason = new Error('gave up');
    const pending = new HttpClient({ baseUrl: stub.baseUrl }).stream('POST', '/v1/exec/stream', {
      idleTimeoutMs: 0,
      signal: ctl.signal,
    });
    await started;
    ctl.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
  });
});

describe('transport', () => {
  test('a streamed exec and a JSON call never load fetch (undici): a short-lived client does not pay for it', async () => {
    stub.route = (req) =>
      req.url === '/v1/exec/stream'
        ? {
            ndjson: [
              { stream: 'stdout', data: b64('hi') },
              { exit_code: 0, exec_time_ms: 1, error: '' },
            ],
          }
        : { json: { exit_code: 0, stdout: 'json', stderr: '', exec_time_ms: 1 } };
    // A process of its own: whatever else this test process loaded does not count. Tests run
    // from dist-test/, the library from dist/ (scripts/test-imports.mjs does this for imports).
    const lib = (file: string) => JSON.stringify(new URL(file, import.meta.url).href.replace('/dist-test/', '/dist/'));
    const script = `
      const { HttpClient } = await import(${lib('./http.js')});
      const { execWithCallbacks } = await import(${lib('./exec-stream.js')});
      const http = new HttpClient({ baseUrl: ${JSON.stringify(stub.baseUrl)} });
      const streamed = await execWithCallbacks(http, 'sb-1', 'x', 0, { onStdout: () => {} });
      const plain = await http.request('POST', '/v1/exec', { body: {}, timeoutMs: 10000 });
      const undici = process.moduleLoadList.some((m) => m.includes('undici'));
      console.log(JSON.stringify({ streamed: streamed.stdout, plain: plain.stdout, undici }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    assert.deepEqual(JSON.parse(stdout), { streamed: 'hi', plain: 'json', undici: false });
  });
});
