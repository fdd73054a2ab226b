import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { create } from './create.js';
import { AgentRunError, ExecutionDeadlineError, NotFoundError, TimeoutTooLargeError } from './errors.js';
import { Sandbox } from './sandbox.js';
import { SandboxServer } from './server.js';
import { TEST_KEY as KEY } from './test-support/sandbox-handle.js';
import { envelope, type RecordedRequest, type StubReply, startStub, useStub } from './test-support/stub-server.js';

/** Per-test routing: each test installs what it needs over `defaultRoutes`. */
const stub = useStub(defaultRoutes);

const fileStore = new Map<string, string>();

function defaultRoutes(req: RecordedRequest): StubReply {
  const b = (req.body ?? {}) as Record<string, unknown>;
  switch (`${req.method} ${req.url}`) {
    case 'POST /v1/templates':
      return { json: { id: b.id, ready: true, created_at: '2026-01-01T00:00:00Z', creation_time_ms: 3 } };
    case 'POST /v1/fork':
      return { json: { id: b.id, template_id: b.template, endpoint: 'http://x', fork_time_ms: 1.5 } };
    case 'GET /v1/health':
      return { json: { status: 'ok' } };
    case 'GET /v1/sandboxes':
      return { json: [{ id: 'sb-known', template_id: 'python', endpoint: 'http://x', fork_time_ms: 2 }] };
    case 'POST /v1/exec':
      return { json: { exit_code: 3, stdout: 'out', stderr: 'err', exec_time_ms: 1.25 } };
    case 'POST /v1/files/write':
      fileStore.set(String(b.path), String(b.content));
      return { json: { status: 'ok' } };
    case 'POST /v1/files/read':
      return fileStore.has(String(b.path))
        ? { json: { content: fileStore.get(String(b.path)), size: 1 } }
        : { status: 500, json: envelope('file_failed', 'no such file') };
    case 'POST /v1/files/list':
      if (b.path === '/missing') return { status: 404, json: envelope('not_found') };
      if (b.path === '/broken') return { status: 500, json: envelope('file_failed') };
      if (b.path === '/empty') return { json: { entries: null } };
      return { json: { entries: [{ name: 'a.txt', is_dir: false, size: 3, mode: 420, modified_at: 1750000000 }] } };
    default:
      return { status: 404, text: '404 page not found' };
  }
}

const opts = () => ({ baseUrl: `${stub.baseUrl}/`, apiKey: KEY });

describe('create', () => {
  test('forks with an Idempotency-Key and a generated id, without asking for a template that exists', async () => {
    const sb = await create('python', opts());
    const [fork] = stub.requests;
    assert.equal(stub.requests.length, 1);
    assert.equal(fork?.url, '/v1/fork');
    assert.match(String(fork?.headers['idempotency-key']), /^[0-9a-f]{32}$/);
    assert.match(sb.id, /^sandbox-[0-9a-f]{8}$/);
    assert.deepEqual(fork?.body, { template: 'python', id: sb.id });
    assert.equal(fork?.headers.authorization, `Bearer ${KEY}`);
    assert.equal(sb.templateId, 'python');
    assert.equal(sb.forkTimeMs, 1.5);
  });

  test("passes the caller's id, key and limits", async () => {
    const sb = await create('node', { ...opts(), id: 'agent-1', idempotencyKey: 'k-123', limits: { memoryMb: 256 } });
    const fork = stub.requests[0];
    assert.equal(fork?.headers['idempotency-key'], 'k-123');
    assert.deepEqual(fork?.body, { template: 'node', id: 'agent-1', limits: { memory_mb: 256 } });
    assert.equal(sb.id, 'agent-1');
  });

  /** The wire's fork of a template that does not exist yet (wire-v1.md 4.4), until it is created. */
  const unknownUntilCreated = (templateReply?: StubReply) => {
    let created = false;
    return (req: RecordedRequest): StubReply => {
      if (req.url === '/v1/templates') {
        created = true;
        if (templateReply) return templateReply;
      }
      if (req.url === '/v1/fork' && !created)
        return { status: 404, json: envelope('not_found', 'template "python" not found') };
      return defaultRoutes(req);
    };
  };

  test("an unknown template: the fork's 404 creates it, then the fork is sent again with the same id and key", async () => {
    stub.route = unknownUntilCreated();
    const sb = await create('python', { ...opts(), id: 'agent-2', idempotencyKey: 'k-456' });
    assert.deepEqual(
      stub.requests.map((r) => r.url),
      ['/v1/fork', '/v1/templates', '/v1/fork'],
    );
    assert.deepEqual(stub.requests[1]?.body, { id: 'python', init_wait_seconds: 5 });
    for (const fork of [stub.requests[0], stub.requests[2]]) {
      assert.equal(fork?.headers['idempotency-key'], 'k-456');
      assert.deepEqual(fork?.body, { template: 'python', id: 'agent-2' });
    }
    assert.equal(sb.id, 'agent-2');
  });

  test('a 409 on the template step is fine', async () => {
    stub.route = unknownUntilCreated({ status: 409, json: envelope('conflict') });
    const sb = await create('python', opts());
    assert.equal(sb.templateId, 'python');
  });

  test('a 404 about anything but the template (a workspace) is the error, and no template is created', async () => {
    stub.route = (req) =>
      req.url === '/v1/fork'
        ? { status: 404, json: envelope('not_found', 'workspace "ws-1" not found') }
        : defaultRoutes(req);
    await assert.rejects(create('python', { ...opts(), workspace: 'ws-1' }), { code: 'not_found', status: 404 });
    assert.deepEqual(
      stub.requests.map((r) => r.url),
      ['/v1/fork'],
    );
  });

  test('an invalid id fails client-side without a request', async () => {
    await assert.rejects(create('python', { ...opts(), id: '../etc' }), { code: 'invalid_request', status: undefined });
    await assert.rejects(create('bad id', opts()), { code: 'invalid_request' });
    assert.equal(stub.requests.length, 0);
  });

  test('no Authorization header when there is no key', async () => {
    await new SandboxServer({ baseUrl: stub.baseUrl }).health();
    assert.equal(stub.requests[0]?.headers.authorization, undefined);
  });
});

describe('exec', () => {
  test('a non-zero exit is a normal result', async () => {
    const sb = await create('python', opts());
    const res = await sb.exec('exit 3', { timeoutSeconds: 7, cwd: '/tmp', env: { A: '1' } });
    assert.deepEqual(res, { exitCode: 3, stdout: 'out', stderr: 'err', execTimeMs: 1.25 });
    assert.deepEqual(stub.requests.at(-1)?.body, {
      sandbox: sb.id,
      command: 'exit 3',
      timeout: 7,
      working_dir: '/tmp',
      env: { A: '1' },
    });
  });

  test('504 exec_timeout becomes ExecutionDeadlineError', async () => {
    const sb = await create('python', opts());
    stub.route = () => ({ status: 504, json: envelope('exec_timeout', 'deadline 1s', { timeout_s: 1 }) });
    await assert.rejects(sb.exec('sleep 5', { timeoutSeconds: 1 }), (err) => {
      assert.ok(err instanceof ExecutionDeadlineError);
      assert.equal((err as AgentRunError).status, 504);
      return true;
    });
  });

  test('a timeout above 86400 s is refused without a request', async () => {
    const sb = await create('python', opts());
    const before = stub.requests.length;
    await assert.rejects(sb.exec('true', { timeoutSeconds: 86_401 }), (err) => {
      assert.ok(err instanceof TimeoutTooLargeError);
      assert.equal((err as AgentRunError).status, undefined);
      assert.deepEqual((err as AgentRunError).context, { requested_s: 86_401, max_timeout_s: 86_400 });
      return true;
    });
    await assert.rejects(sb.exec('true', { timeoutSeconds: -1 }), { code: 'invalid_request' });
    assert.equal(stub.requests.length, before);
  });

  test('an already aborted signal rejects with its reason before any request', async () => {
    const sb = await create('python', opts());
    const before = stub.requests.length;
    const reason = new Error('stop');
    await assert.rejects(sb.exec('true', { signal: AbortSignal.abort(reason) }), (err) => err === reason);
    assert.equal(stub.requests.length, before);
  });
});

describe('files', () => {
  test('bytes travel as lowercase hex with binary:true and round-trip', async () => {
    const sb = await create('python', opts());
    const bytes = new Uint8Array([0, 1, 0x7f, 0x80, 0xab, 0xff]);
    await sb.files.write('/w/blob.bin', bytes, { mode: 0o600 });
    assert.deepEqual(stub.requests.at(-1)?.body, {
      sandbox: sb.id,
      path: '/w/blob.bin',
      content: '00017f80abff',
      binary: true,
      mode: 0o600,
    });
    assert.deepEqual(await sb.files.readBytes('/w/blob.bin'), bytes);
    assert.deepEqual(stub.requests.at(-1)?.body, { sandbox: sb.id, path: '/w/blob.bin', binary: true });
  });

  test('text is sent as-is without the binary flag', async () => {
    const sb = await create('python', opts());
    await sb.files.write('/w/a.txt', 'héllo');
    assert.deepEqual(stub.requests.at(-1)?.body, { sandbox: sb.id, path: '/w/a.txt', content: 'héllo' });
    assert.equal(await sb.files.read('/w/a.txt'), 'héllo');
  });

  test('readBytes rejects content that is not hex', async () => {
    const sb = await create('python', opts());
    await sb.files.write('/w/t.txt', 'not hex');
    await assert.rejects(sb.files.readBytes('/w/t.txt'), { code: 'invalid_response' });
  });

  test('list maps entries; null entries mean empty', async () => {
    const sb = await create('python', opts());
    const [entry] = await sb.files.list('/w');
    assert.deepEqual(entry, {
      name: 'a.txt',
      isDir: false,
      size: 3,
      mode: 420,
      modifiedAt: new Date(1750000000 * 1000),
    });
    assert.deepEqual(await sb.files.list('/empty'), []);
  });

  test('exists: 2xx true, 404 false, other errors propagate', async () => {
    const sb = await create('python', opts());
    assert.equal(await sb.files.exists('/w'), true);
    assert.equal(await sb.files.exists('/missing'), false);
    await assert.rejects(sb.files.exists('/broken'), { code: 'file_failed' });
  });
});

describe('terminate and connect', () => {
  test('terminate sends DELETE; 404 is fine, 500 throws', async () => {
    const sb = await create('python', opts());
    stub.route = (req) =>
      req.method === 'DELETE' ? { json: { status: 'terminated', id: sb.id } } : defaultRoutes(req);
    await sb.terminate();
    assert.equal(stub.requests.at(-1)?.url, `/v1/sandboxes/${sb.id}`);
    stub.route = (req) => (req.method === 'DELETE' ? { status: 404, json: envelope('not_found') } : defaultRoutes(req));
    await sb.terminate();
    stub.route = (req) => (req.method === 'DELETE' ? { status: 500, json: envelope('internal') } : defaultRoutes(req));
    await assert.rejects(sb.terminate(), { code: 'internal', status: 500 });
  });

  test('asyncDispose terminates', async () => {
    stub.route = (req) => (req.method === 'DELETE' ? { json: {} } : defaultRoutes(req));
    const sb = await create('python', opts());
    await sb[Symbol.asyncDispose]();
    assert.equal(stub.requests.at(-1)?.method, 'DELETE');
  });

  test('connect finds a listed sandbox, and NotFoundError otherwise', async () => {
    const sb = await Sandbox.connect('sb-known', opts());
    assert.equal(sb.templateId, 'python');
    await assert.rejects(
      Sandbox.connect('sb-gone', opts()),
      (err) => err instanceof NotFoundError && err.status === 404,
    );
  });
});

describe('SandboxServer', () => {
  test('templates, sandboxes and health map the wire records', async () => {
    stub.route = (req) =>
      req.url === '/v1/templates'
        ? { json: [{ id: 'python', ready: true, created_at: 't', creation_time_ms: 9, image: 'python' }] }
        : req.url === '/v1/health'
          ? { json: { status: 'ok', templates: 1 } }
          : defaultRoutes(req);
    const server = new SandboxServer(opts());
    assert.deepEqual(await server.listTemplates(), [
      { id: 'python', ready: true, createdAt: 't', creationTimeMs: 9, image: 'python' },
    ]);
    assert.equal((await server.listSandboxes())[0]?.templateId, 'python');
    assert.deepEqual(await server.health(), { status: 'ok', templates: 1 });
  });

  test('createTemplate sends an Idempotency-Key only when given, and the network', async () => {
    const server = new SandboxServer(opts());
    await server.createTemplate('py', { network: { egress: 'allow', allowDomains: ['pypi.org:443'] } });
    assert.equal(stub.requests[0]?.headers['idempotency-key'], undefined);
    assert.deepEqual(stub.requests[0]?.body, {
      id: 'py',
      init_wait_seconds: 5,
      network: { egress: 'allow', allow_domains: ['pypi.org:443'] },
    });
    await server.createTemplate('py', { idempotencyKey: 'abc' });
    assert.equal(stub.requests[1]?.headers['idempotency-key'], 'abc');
  });

  test('ensureTemplate tolerates only 409', async () => {
    stub.route = () => ({ status: 500, json: envelope('template_build_failed') });
    await assert.rejects(new SandboxServer(opts()).ensureTemplate('py'), { code: 'template_build_failed' });
  });

  test('fork always sends an Idempotency-Key', async () => {
    await new SandboxServer(opts()).fork('python');
    assert.match(String(stub.requests[0]?.headers['idempotency-key']), /^[0-9a-f]{32}$/);
  });
});

describe('transport failures', () => {
  test('an unreachable server is connection_failed, naming MITOS_BASE_URL and mitos serve', async () => {
    const dead = await startStub(() => ({}));
    const url = dead.baseUrl;
    await dead.close();
    await assert.rejects(new SandboxServer({ baseUrl: url, apiKey: KEY }).health(), (err) => {
      assert.ok(err instanceof AgentRunError);
      assert.equal(err.code, 'connection_failed');
      assert.equal(err.status, undefined);
      assert.match(err.remediation, /MITOS_BASE_URL/);
      assert.match(err.remediation, /mitos serve/);
      return true;
    });
  });

  test('a server that never answers hits the client clock as request_timeout', async () => {
    stub.route = () => ({ hang: true });
    await assert.rejects(new SandboxServer({ ...opts(), timeoutMs: 100 }).health(), { code: 'request_timeout' });
  });

  test('a bad base URL is refused up front', () => {
    assert.throws(() => new SandboxServer({ baseUrl: 'localhost:8080' }), { code: 'invalid_base_url' });
  });
});

describe('the key never leaks', () => {
  test('not in errors built from a body that echoes it', async () => {
    const sb = await create('python', opts());
    stub.route = () => ({ status: 401, json: envelope('unauthorized', `bad token ${KEY}`, { echoed: KEY }) });
    const err = await sb.exec('true').catch((e: unknown) => e);
    assert.ok(err instanceof AgentRunError);
    assert.ok(!inspect(err, { depth: 10, showHidden: true }).includes(KEY));
    assert.ok(!JSON.stringify(err.toEnvelope()).includes(KEY));
  });

  test('not in inspect() or JSON of a Sandbox or SandboxServer', async () => {
    const sb = await create('python', opts());
    const server = new SandboxServer(opts());
    for (const v of [sb, server, sb.files]) {
      assert.ok(!inspect(v, { depth: 10, showHidden: true }).includes(KEY));
      assert.ok(!JSON.stringify(v).includes(KEY));
    }
    assert.match(inspect(server), /\[REDACTED\]/);
  });
});
