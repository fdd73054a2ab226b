import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SandboxNotRunningError, TimeoutTooLargeError } from './errors.js';
import { Sandbox } from './sandbox.js';
import { SandboxServer } from './server.js';
import { sandboxOn, TEST_KEY } from './test-support/sandbox-handle.js';
import { envelope, type RecordedRequest, type StubReply, useStub } from './test-support/stub-server.js';

const stub = useStub(routes);

function routes(req: RecordedRequest): StubReply {
  const b = (req.body ?? {}) as Record<string, unknown>;
  switch (`${req.method} ${req.url}`) {
    case 'POST /v1/set_timeout':
      return { json: { status: 'ok', deadline_unix: 1750003600, timeout_seconds: b.timeout_seconds } };
    case 'POST /v1/pause':
      return { json: { status: 'paused' } };
    case 'POST /v1/resume':
      return { json: { status: 'running' } };
    case 'POST /v1/preview':
      return { json: { url: 'http://srv/preview/tok/', expires_unix: 1750003600 } };
    case 'POST /v1/sandboxes/sb-1/forward':
      return { json: { host: '127.0.0.1:40123', guest_port: b.guest_port } };
    case 'GET /v1/sandboxes/sb-1':
      return {
        json: {
          id: 'sb-1',
          template_id: 'python',
          endpoint: 'http://x',
          fork_time_ms: 1,
          state: 'running',
          hostname: 'sb-1',
          parent_id: null,
          generation: 0,
          deadline_unix: 0,
        },
      };
    case 'POST /v1/sandboxes/sb-1/fork':
      return {
        json: {
          parent: { id: 'sb-1', template_id: 'python', endpoint: 'http://x', fork_time_ms: 1, generation: 0 },
          children: (Array.isArray(b.ids) ? b.ids : ['sb-1-a', 'sb-1-b']).map((id) => ({
            id,
            template_id: 'python',
            endpoint: 'http://x',
            fork_time_ms: 3.5,
            parent_id: 'sb-1',
            generation: 1,
          })),
          fork_time_ms: 7.25,
          carried: {
            filesystem: true,
            interpreter: true,
            interpreter_skipped: ['sock'],
            processes: false,
            processes_not_carried: [{ pid: 12, command: 'sleep 60', reason: 'not asked for (processes: "none")' }],
          },
        },
      };
    case 'GET /v1/metering':
      return {
        json: {
          sandboxes: [
            {
              sandbox: 'sb-1',
              memory: { unique_bytes: 10, shared_bytes: 20, cgroup_bytes: 30 },
              disk: null,
              cpu_ns: 99,
              egress_bytes: 512,
            },
          ],
          totals: { memory: { unique_bytes: 10 }, cpu_ns: 99 },
        },
      };
    case 'POST /v1/exec':
      return { json: { exit_code: 0, stdout: b.sandbox, stderr: '', exec_time_ms: 1 } };
    default:
      return { status: 404, text: 'no route' };
  }
}

describe('setTimeout', () => {
  test('sends timeout_seconds and returns the deadline', async () => {
    assert.equal(await sandboxOn(stub.baseUrl).setTimeout(3600), 1750003600);
    assert.deepEqual(stub.requests[0]?.body, { sandbox: 'sb-1', timeout_seconds: 3600 });
  });

  test('over 86400 is TimeoutTooLargeError and <= 0 is invalid, both without a request', async () => {
    const sb = sandboxOn(stub.baseUrl);
    await assert.rejects(
      sb.setTimeout(86_401),
      (err) => err instanceof TimeoutTooLargeError && err.status === undefined,
    );
    for (const bad of [0, -5, 1.5, Number.NaN]) await assert.rejects(sb.setTimeout(bad), { code: 'invalid_request' });
    assert.equal(stub.requests.length, 0);
  });
});

describe('pause, resume, info', () => {
  test('pause and resume name the sandbox; a paused sandbox answers SandboxNotRunningError', async () => {
    const sb = sandboxOn(stub.baseUrl);
    await sb.pause();
    await sb.resume();
    assert.deepEqual(
      stub.requests.map((r) => [r.url, r.body]),
      [
        ['/v1/pause', { sandbox: 'sb-1' }],
        ['/v1/resume', { sandbox: 'sb-1' }],
      ],
    );
    stub.route = () => ({ status: 409, json: envelope('sandbox_not_running', 'paused', { sandbox: 'sb-1' }) });
    await assert.rejects(sb.exec('true'), (err) => err instanceof SandboxNotRunningError && err.status === 409);
  });

  test('info() maps the record; deadline 0 means none', async () => {
    const info = await sandboxOn(stub.baseUrl).info();
    assert.equal(info.state, 'running');
    assert.equal(info.parentId, undefined);
    assert.equal(info.generation, 0);
    assert.equal(info.deadline, undefined);
  });
});

describe('ports', () => {
  test('getHost validates the port client-side and returns the URL', async () => {
    const sb = sandboxOn(stub.baseUrl);
    assert.equal(await sb.getHost(8000), 'http://srv/preview/tok/');
    assert.deepEqual(stub.requests[0]?.body, { sandbox: 'sb-1', port: 8000 });
    for (const bad of [0, 65_536, 80.5]) await assert.rejects(sb.getHost(bad), { code: 'invalid_request' });
    assert.equal(stub.requests.length, 1);
    assert.deepEqual(await sb.preview(), { url: 'http://srv/preview/tok/', expiresAt: new Date(1750003600 * 1000) });
    assert.deepEqual(stub.requests[1]?.body, { sandbox: 'sb-1', port: 80 });
  });

  test('an empty preview url is invalid_response', async () => {
    stub.route = () => ({ json: { url: '' } });
    await assert.rejects(sandboxOn(stub.baseUrl).getHost(), { code: 'invalid_response' });
  });

  test('forward returns host and guestPort', async () => {
    assert.deepEqual(await sandboxOn(stub.baseUrl).forward(5432), { host: '127.0.0.1:40123', guestPort: 5432 });
    assert.deepEqual(stub.requests[0]?.body, { guest_port: 5432 });
  });
});

describe('fork (live)', () => {
  test('returns one full handle per child, with an Idempotency-Key', async () => {
    const children = await sandboxOn(stub.baseUrl).fork(2);
    assert.equal(stub.requests[0]?.url, '/v1/sandboxes/sb-1/fork');
    assert.deepEqual(stub.requests[0]?.body, { count: 2 });
    assert.match(String(stub.requests[0]?.headers['idempotency-key']), /^[0-9a-f]{32}$/);
    assert.deepEqual(
      children.map((c) => [c.id, c.templateId, c.forkTimeMs]),
      [
        ['sb-1-a', 'python', 3.5],
        ['sb-1-b', 'python', 3.5],
      ],
    );
    assert.ok(children[0] instanceof Sandbox);
    // Each child is a working handle on the same server, with the same key.
    assert.equal((await children[1]?.exec('true'))?.stdout, 'sb-1-b');
    assert.equal(stub.requests[1]?.headers.authorization, `Bearer ${TEST_KEY}`);
  });

  test('forkWithReport carries what was copied; ids and key pass through', async () => {
    const report = await sandboxOn(stub.baseUrl).forkWithReport(1, { ids: ['kid'], idempotencyKey: 'k-1' });
    assert.deepEqual(stub.requests[0]?.body, { count: 1, ids: ['kid'] });
    assert.equal(stub.requests[0]?.headers['idempotency-key'], 'k-1');
    assert.deepEqual(report.carried, {
      filesystem: true,
      interpreter: true,
      interpreterSkipped: ['sock'],
      processes: false,
      processesNotCarried: [{ pid: 12, command: 'sleep 60', reason: 'not asked for (processes: "none")' }],
      connections: false,
    });
    assert.equal(report.forkTimeMs, 7.25);
    assert.equal(report.parent.id, 'sb-1');
    assert.deepEqual(
      report.children.map((c) => c.id),
      ['kid'],
    );
  });

  test('fork(n, {processes}) sends the mode; an unknown one is refused before any request', async () => {
    await sandboxOn(stub.baseUrl).fork(1, { processes: 'none' });
    assert.deepEqual(stub.requests[0]?.body, { count: 1, processes: 'none' });
    await assert.rejects(
      sandboxOn(stub.baseUrl).fork(1, { processes: 'some' as 'all' }),
      (err: { code?: string }) => err.code === 'invalid_request',
    );
    assert.equal(stub.requests.length, 1);
  });

  test('bad counts and ids are refused without a request', async () => {
    const sb = sandboxOn(stub.baseUrl);
    for (const n of [0, 65, 1.5]) await assert.rejects(sb.fork(n), { code: 'invalid_request' });
    await assert.rejects(sb.fork(2, { ids: ['a'] }), { code: 'invalid_request' });
    await assert.rejects(sb.fork(2, { ids: ['a', 'a'] }), { code: 'invalid_request' });
    await assert.rejects(sb.fork(1, { ids: ['../x'] }), { code: 'invalid_request' });
    assert.equal(stub.requests.length, 0);
  });
});

describe('SandboxServer.metering', () => {
  test('maps to camelCase', async () => {
    const m = await new SandboxServer({ baseUrl: stub.baseUrl }).metering();
    assert.deepEqual(m, {
      sandboxes: [
        {
          sandbox: 'sb-1',
          memory: { uniqueBytes: 10, sharedBytes: 20, cgroupBytes: 30 },
          disk: null,
          cpuNs: 99,
          egressBytes: 512,
        },
      ],
      totals: { memory: { uniqueBytes: 10 }, cpuNs: 99 },
    });
  });
});
