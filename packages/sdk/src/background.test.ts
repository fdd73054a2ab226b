import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { beforeEach, describe, test } from 'node:test';
import { NotFoundError } from './errors.js';
import { sandboxOn } from './test-support/sandbox-handle.js';
import { envelope, ndjsonLine, type RecordedRequest, type StubReply, useStub } from './test-support/stub-server.js';

const stub = useStub(processRoutes);
/** The open /v1/processes/stream response, so a test can finish it after a signal. */
let live: { res: ServerResponse; closed: Promise<void> } | undefined;

beforeEach(() => {
  live = undefined;
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

function processRoutes(req: RecordedRequest): StubReply {
  const body = (req.body ?? {}) as Record<string, unknown>;
  switch (`${req.method} ${req.url.split('?')[0]}`) {
    case 'POST /v1/processes':
      return { json: { pid: 42 } };
    case 'POST /v1/processes/stream':
      if (body.pid !== 42) return { status: 404, json: envelope('not_found') };
      return {
        respond: (res) => {
          const closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
          live = { res, closed };
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          res.write(ndjsonLine({ stream: 'stdout', data: b64('booting\n') }));
        },
      };
    case 'POST /v1/processes/signal':
      if (body.pid !== 42) return { status: 404, json: envelope('not_found') };
      // The process dies: its stream reports the end, as the server would.
      live?.res.end(ndjsonLine({ exit_code: 137, exec_time_ms: 50, error: '' }));
      return { json: { status: 'ok' } };
    case 'GET /v1/processes':
      return { json: { processes: [{ pid: 42, command: 'npm run dev', tracked: true, started_at: 1750000000 }] } };
    default:
      return { status: 404, text: 'no route' };
  }
}

describe('execBackground', () => {
  test('starts, replays output to the callbacks, kill() ends it and wait() resolves', async () => {
    const out: string[] = [];
    const proc = await sandboxOn(stub.baseUrl).execBackground('npm run dev', {
      cwd: '/app',
      env: { PORT: '3000' },
      onStdout: (b) => out.push(Buffer.from(b).toString()),
    });
    assert.equal(proc.pid, 42);
    assert.deepEqual(stub.requests[0]?.body, {
      sandbox: 'sb-1',
      command: 'npm run dev',
      working_dir: '/app',
      env: { PORT: '3000' },
    });
    assert.deepEqual(stub.requests[1]?.body, { sandbox: 'sb-1', pid: 42 });
    assert.equal(await proc.kill('TERM'), true);
    assert.deepEqual(stub.requests[2]?.body, { sandbox: 'sb-1', pid: 42, signal: 15 });
    assert.deepEqual(await proc.wait(), { exitCode: 137, stdout: 'booting\n', stderr: '', execTimeMs: 50 });
    assert.deepEqual(out, ['booting\n']);
    assert.equal(proc.exitCode, 137);
  });

  test('disconnect() hangs up without signalling; the process is not killed', async () => {
    const proc = await sandboxOn(stub.baseUrl).execBackground('sleep 1000');
    const stream = live;
    assert.ok(stream);
    proc.disconnect();
    await stream.closed;
    await assert.rejects(proc.wait(), { code: 'process_disconnected' });
    assert.equal(
      stub.requests.some((r) => r.url === '/v1/processes/signal'),
      false,
    );
  });

  test('kill() of a process that is already gone resolves false', async () => {
    const sb = sandboxOn(stub.baseUrl);
    const proc = await sb.execBackground('true');
    stub.route = (req) =>
      req.url === '/v1/processes/signal' ? { status: 404, json: envelope('not_found') } : processRoutes(req);
    assert.equal(await proc.kill(), false);
    proc.disconnect();
  });
});

describe('sandbox.processes', () => {
  test('list() maps the wire records', async () => {
    assert.deepEqual(await sandboxOn(stub.baseUrl).processes.list(), [
      { pid: 42, command: 'npm run dev', tracked: true, startedAt: new Date(1750000000 * 1000) },
    ]);
    assert.equal(stub.requests[0]?.url, '/v1/processes?sandbox=sb-1');
  });

  test('signal() of an unknown pid is NotFoundError; names map to Linux numbers', async () => {
    const sb = sandboxOn(stub.baseUrl);
    await assert.rejects(sb.processes.signal(7, 'SIGUSR1'), (err) => err instanceof NotFoundError);
    assert.deepEqual(stub.requests[0]?.body, { sandbox: 'sb-1', pid: 7, signal: 10 });
    await assert.rejects(sb.processes.signal(7, 'SIGNOPE'), { code: 'invalid_request' });
    assert.equal(stub.requests.length, 1);
  });

  test('connect() reattaches to a tracked pid and sees the replayed output', async () => {
    const proc = await sandboxOn(stub.baseUrl).processes.connect(42);
    await proc.kill();
    const res = await proc.wait();
    assert.equal(res.stdout, 'booting\n');
    await assert.rejects(sandboxOn(stub.baseUrl).processes.connect(9), (err) => err instanceof NotFoundError);
  });
});
