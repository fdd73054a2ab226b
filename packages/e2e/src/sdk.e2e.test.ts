import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, NotFoundError, SandboxServer, UnauthorizedError } from '@mitos/sdk';
import { type LiveServer, liveServer } from './fixtures.js';

describe('end to end: TypeScript SDK against the real server and engine', { timeout: 600_000 }, () => {
  let live: LiveServer;
  before(async () => {
    live = await liveServer();
  });
  after(() => live.stop());

  test('create python, run a command, write and read a file, terminate', async () => {
    const sb = await create('python', { baseUrl: live.url });
    try {
      const r = await sb.exec("python3 -c 'print(2+2)'");
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, '4\n');
      await sb.files.write('/workspace/notes.md', '# findings\n');
      assert.equal(await sb.files.read('/workspace/notes.md'), '# findings\n');
      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
      await sb.files.write('/workspace/blob.bin', bytes);
      assert.deepEqual(await sb.files.readBytes('/workspace/blob.bin'), bytes);
      const listing = await sb.files.list('/workspace');
      assert.deepEqual(listing.map((e) => e.name).sort(), ['blob.bin', 'notes.md']);
      assert.equal(await sb.files.exists('/workspace/notes.md'), true);
      assert.equal(await sb.files.exists('/workspace/missing'), false);
      await assert.rejects(sb.files.read('/workspace/missing'), NotFoundError);
      const seen = await sb.exec('wc -c < /workspace/blob.bin');
      assert.equal(seen.stdout.trim(), '6');
    } finally {
      await sb.terminate();
    }
    const server = new SandboxServer({ baseUrl: live.url });
    assert.ok(!(await server.listSandboxes()).some((s) => s.id === sb.id));
    await assert.rejects(sb.exec('true'), NotFoundError);
  });

  test('await using terminates the sandbox at the end of the scope', async () => {
    let id = '';
    {
      await using sb = await create('python', { baseUrl: live.url });
      id = sb.id;
      assert.equal((await sb.exec('hostname')).stdout.trim(), id);
    }
    const server = new SandboxServer({ baseUrl: live.url });
    assert.ok(!(await server.listSandboxes()).some((s) => s.id === id));
  });

  test('the same idempotency key creates one sandbox', async () => {
    const server = new SandboxServer({ baseUrl: live.url });
    const a = await server.fork('python', { idempotencyKey: 'e2e-key-1' });
    const b = await server.fork('python', { idempotencyKey: 'e2e-key-1' });
    assert.equal(a.id, b.id);
    await a.terminate();
  });
});

describe('end to end: API keys', { timeout: 600_000 }, () => {
  let live: LiveServer;
  const key = 'sk-e2e-secret-value-123456';
  before(async () => {
    live = await liveServer({ apiKeys: [key] });
  });
  after(() => live.stop());

  test('a missing or wrong key is refused; the right key works; the key never echoes', async () => {
    await assert.rejects(create('python', { baseUrl: live.url, apiKey: 'sk-wrong' }), UnauthorizedError);
    const raw = await fetch(`${live.url}/v1/sandboxes`, { headers: { authorization: `Bearer ${key}x` } });
    assert.equal(raw.status, 401);
    assert.ok(!(await raw.text()).includes(key));
    const sb = await create('python', { baseUrl: live.url, apiKey: key });
    assert.equal((await sb.exec('echo ok')).stdout, 'ok\n');
    await sb.terminate();
  });
});
