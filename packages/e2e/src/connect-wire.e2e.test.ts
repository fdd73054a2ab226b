/**
 * The current mitos clients (Python `mitos-run` 0.3.x and the TypeScript SDK of the same
 * generation) against the real server on the real engine, with the exact requests their
 * direct mode sends: create (templates + fork), every Connect runtime call, the errors they
 * turn into typed exceptions, and the per-sandbox live fork body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, END_STREAM, unb64, type WireClient, wireClient } from './connect-wire.js';
import { type LiveServer, liveServer } from './fixtures.js';

describe('end to end: the 0.3.x clients direct mode over Connect', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let py: WireClient;
  let ts: WireClient;
  let sandboxId: string;

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${live.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: wire JSON
    return { status: res.status, json: (await res.json()) as any };
  };

  before(async () => {
    live = await liveServer({ serverOptions: { maxExecTimeoutSeconds: 3600 } });
    // DirectSandbox.create: ensure_template, then fork with an auto-generated Idempotency-Key.
    assert.equal((await post('/v1/templates', { id: 'python', init_wait_seconds: 5 })).status, 200);
    const created = await post('/v1/fork', { template: 'python', id: 'sandbox-c0ffee01' }, { 'Idempotency-Key': 'k1' });
    assert.equal(created.status, 200);
    sandboxId = created.json.id;
    for (const field of ['id', 'template_id', 'endpoint', 'fork_time_ms']) assert.ok(field in created.json, field);
    py = wireClient(live.url, sandboxId, 'python');
    ts = wireClient(live.url, sandboxId, 'typescript');
  });
  after(() => live?.stop());

  test('exec: ExecStream chunks then one exit, for both clients', async () => {
    for (const client of [py, ts]) {
      const { status, frames } = await client.stream('ExecStream', [
        { command: 'echo out; echo err >&2; exit 3', timeoutSeconds: 30 },
      ]);
      assert.equal(status, 200);
      const last = frames.at(-1);
      assert.equal(last?.flags, END_STREAM);
      assert.deepEqual(last?.json, {});
      const body = frames.slice(0, -1).map((f) => f.json);
      assert.equal(
        body
          .filter((m) => 'stdout' in m)
          .map((m) => unb64(m.stdout))
          .join(''),
        'out\n',
      );
      assert.equal(
        body
          .filter((m) => 'stderr' in m)
          .map((m) => unb64(m.stderr))
          .join(''),
        'err\n',
      );
      const exits = body.filter((m) => 'exit' in m);
      assert.equal(exits.length, 1);
      assert.equal(exits[0].exit.exitCode, 3);
      assert.equal(typeof exits[0].exit.execTimeMs, 'number');
      assert.equal(body.at(-1), exits[0]);
    }
  });

  test('exec: a command killed at its deadline exits 124 (the clients raise their deadline error)', async () => {
    const { frames } = await py.stream('ExecStream', [{ command: 'sleep 30', timeoutSeconds: 1 }]);
    const exit = frames.find((f) => 'exit' in f.json)?.json.exit;
    assert.equal(exit.exitCode, 124);
  });

  test('files: WriteFile, ReadFile, List, Mkdir, Remove as the clients send them', async () => {
    // Python: open with path and mode, then one base64 data frame; TypeScript leaves mode out.
    const written = await py.stream('WriteFile', [
      { open: { path: '/workspace/py.txt', mode: 0o600 } },
      { data: b64('from python\n') },
    ]);
    assert.equal(written.status, 200);
    assert.equal(written.frames[0]?.json.bytesWritten, String('from python\n'.length));
    assert.equal(written.frames.at(-1)?.flags, END_STREAM);
    await ts.stream('WriteFile', [{ open: { path: '/workspace/ts.txt' } }, { data: b64('from ts') }]);

    const read = await py.stream('ReadFile', [{ path: '/workspace/py.txt' }]);
    const chunks = read.frames.filter((f) => !(f.flags & END_STREAM)).map((f) => f.json);
    assert.equal(chunks.map((c) => unb64(c.data)).join(''), 'from python\n');
    assert.equal(chunks.at(-1).eof, true);

    assert.equal((await py.unary('Mkdir', { path: '/workspace/dir/sub' })).status, 200);
    const listed = await py.unary('List', { parent: '/workspace' });
    assert.equal(listed.status, 200);
    const byName = new Map(listed.json.entries.map((e: { name: string }) => [e.name, e]));
    // biome-ignore lint/suspicious/noExplicitAny: proto-JSON entry
    const file = byName.get('py.txt') as any;
    assert.equal(file.size, String('from python\n'.length)); // int64 is a JSON string; int() reads it
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal(file.path, '/workspace/py.txt');
    assert.match(file.modifiedAtUnix, /^\d+$/);
    // biome-ignore lint/suspicious/noExplicitAny: proto-JSON entry
    assert.equal((byName.get('dir') as any).isDir, true);

    assert.equal((await py.unary('Remove', { path: '/workspace/ts.txt' })).status, 200);
    const refused = await py.unary('Remove', { path: '/workspace/dir' });
    assert.equal(refused.json.code, 'failed_precondition');
    assert.equal((await py.unary('Remove', { path: '/workspace/dir', recursive: true })).status, 200);
    const after = await py.unary('List', { parent: '/workspace' });
    assert.deepEqual(after.json.entries.map((e: { name: string }) => e.name).sort(), ['py.txt']);
  });

  test('errors the clients map to typed exceptions: missing file, unknown sandbox, bad timeout', async () => {
    // files.exists() is List answering 404 not_found.
    const missing = await py.unary('List', { parent: '/workspace/nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'not_found');
    // A stream fails in its end-of-stream frame, after a 200.
    const read = await py.stream('ReadFile', [{ path: '/workspace/nope.txt' }]);
    assert.equal(read.status, 200);
    assert.equal(read.frames.length, 1);
    assert.equal(read.frames[0]?.flags, END_STREAM);
    assert.equal(read.frames[0]?.json.error.code, 'not_found');
    assert.match(read.frames[0]?.json.error.message, /not_found/);

    const gone = await py.unary('Remove', { path: '/workspace/nope' });
    assert.equal(gone.json.code, 'not_found');

    const stranger = wireClient(live.url, 'sandbox-unknown1');
    assert.equal((await stranger.unary('Mkdir', { path: '/x' })).json.code, 'not_found');
    const exec = await stranger.stream('ExecStream', [{ command: 'true' }]);
    assert.equal(exec.frames.at(-1)?.json.error.code, 'not_found');

    const tooLong = await py.stream('ExecStream', [{ command: 'true', timeoutSeconds: 7200 }]);
    assert.equal(tooLong.frames.at(-1)?.json.error.code, 'invalid_argument');
    assert.match(tooLong.frames.at(-1)?.json.error.message, /timeout_too_large/);
  });

  test('run_code: RunCodeStream with rich results, state kept between calls', async () => {
    const first = await py.stream('RunCodeStream', [
      { code: 'x = 40\nprint("hi")', language: 'python', timeoutSeconds: 60 },
    ]);
    const firstBody = first.frames.filter((f) => !(f.flags & END_STREAM)).map((f) => f.json);
    assert.equal(unb64(firstBody.find((m) => 'stdout' in m)?.stdout), 'hi\n');
    assert.deepEqual(firstBody.at(-1), { exitCode: 0 });
    const second = await ts.stream('RunCodeStream', [{ code: 'x + 2' }]);
    const result = second.frames.find((f) => 'result' in f.json)?.json.result;
    assert.equal(result.text, '42');
    assert.equal(unb64(result.data['text/plain']), '42');
    const failed = await py.stream('RunCodeStream', [{ code: '1/0', language: 'python', timeoutSeconds: 60 }]);
    const error = failed.frames.find((f) => 'error' in f.json)?.json.error;
    assert.equal(error.name, 'ZeroDivisionError');
  });

  test('fork(n): the per-sandbox body {id, template, pause_source} makes one live child', async () => {
    await py.stream('WriteFile', [{ open: { path: '/workspace/state.txt', mode: 420 } }, { data: b64('parent') }]);
    const forked = await post(
      `/v1/sandboxes/${sandboxId}/fork`,
      { id: 'sandbox-c0ffee02', template: 'python', pause_source: true },
      { 'Idempotency-Key': 'fork-k1' },
    );
    assert.equal(forked.status, 200);
    const child = forked.json;
    // The flat fields DirectSandbox reads, plus our report.
    assert.equal(child.id, 'sandbox-c0ffee02');
    assert.equal(child.template_id, 'python');
    assert.equal(child.endpoint, live.url);
    assert.ok(child.fork_time_ms > 0);
    assert.equal(typeof child.created_at, 'string');
    assert.equal(child.parent.id, sandboxId);
    assert.deepEqual(
      child.children.map((c: { id: string }) => c.id),
      ['sandbox-c0ffee02'],
    );
    assert.equal(child.pause_source, true);

    const inChild = wireClient(live.url, child.id);
    const read = await inChild.stream('ReadFile', [{ path: '/workspace/state.txt' }]);
    assert.equal(unb64(read.frames[0]?.json.data), 'parent');
    const ran = await inChild.stream('ExecStream', [{ command: 'echo child', timeoutSeconds: 30 }]);
    assert.equal(unb64(ran.frames.find((f) => 'stdout' in f.json)?.json.stdout), 'child\n');
    const retried = await post(
      `/v1/sandboxes/${sandboxId}/fork`,
      { id: 'sandbox-c0ffee02', template: 'python', pause_source: true },
      { 'Idempotency-Key': 'fork-k1' },
    );
    assert.equal(retried.json.id, 'sandbox-c0ffee02');
    const mismatch = await post(`/v1/sandboxes/${sandboxId}/fork`, { id: 'sandbox-c0ffee03', template: 'node' });
    assert.equal(mismatch.status, 400);
    // pause_source false: the parent runs on while it is copied; the child is just as live.
    const running = await post(`/v1/sandboxes/${sandboxId}/fork`, { id: 'sandbox-c0ffee04', pause_source: false });
    assert.equal(running.json.pause_source, false);
    const copied = await wireClient(live.url, 'sandbox-c0ffee04').stream('ReadFile', [
      { path: '/workspace/state.txt' },
    ]);
    assert.equal(unb64(copied.frames[0]?.json.data), 'parent');
  });
});
