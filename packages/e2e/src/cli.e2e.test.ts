import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LiveServer, liveServer, runCli } from './fixtures.js';

describe('end to end: the mitos CLI', { timeout: 600_000 }, () => {
  let live: LiveServer;
  before(async () => {
    live = await liveServer();
  });
  after(() => live.stop());

  test('mitos run passes the output and the exit code through', async () => {
    const ok = await runCli(['--base-url', live.url, 'run', '--', 'python3', '-c', 'print(2+2)']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '4\n');
    const failed = await runCli(['--base-url', live.url, 'run', '--', 'sh -c "echo oops >&2; exit 3"']);
    assert.equal(failed.code, 3);
    assert.match(failed.stderr, /oops/);
  });

  test('sandbox create, exec, ls and terminate', async () => {
    const created = await runCli(['--base-url', live.url, 'sandbox', 'create', '--template', 'python']);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    const ls = await runCli(['--base-url', live.url, 'sandbox', 'ls']);
    assert.match(ls.stdout, new RegExp(id));
    const exec = await runCli(['--base-url', live.url, 'sandbox', 'exec', id, '--', 'uname -n']);
    assert.equal(exec.stdout.trim(), id);
    const term = await runCli(['--base-url', live.url, 'sandbox', 'terminate', id]);
    assert.equal(term.code, 0, term.stderr);
    const gone = await runCli(['--base-url', live.url, 'sandbox', 'exec', id, '--', 'true']);
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /not_found/);
  });
});
