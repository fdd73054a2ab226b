import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AgentRunError, create } from '@mitos/sdk';
import { until } from '@mitos/testkit';
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

  test('mitos run does not wait for the teardown, and its sandbox is still removed', async () => {
    const gone = new Set<string>();
    const unsubscribe = live.engine.onSandboxGone((id) => gone.add(id));
    try {
      const r = await runCli(['--base-url', live.url, 'run', '--', 'uname -n']);
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.trim();
      assert.match(id, /^sandbox-/);
      await until(() => gone.has(id), 60_000, `sandbox ${id} to be removed`);
      assert.equal(live.engine.describe(id), undefined);
    } finally {
      unsubscribe();
    }
  });

  test('terminate({ wait: false }) refuses every later call at once, then the sandbox is gone', async () => {
    const sb = await create('python', { baseUrl: live.url });
    const gone = new Set<string>();
    const unsubscribe = live.engine.onSandboxGone((id) => gone.add(id));
    try {
      await sb.terminate({ wait: false });
      await assert.rejects(sb.exec('true'), (err: unknown) => {
        assert.ok(err instanceof AgentRunError);
        assert.match(err.code, /^(not_found|sandbox_not_running)$/);
        return true;
      });
      await until(() => gone.has(sb.id), 60_000, `sandbox ${sb.id} to be removed`);
      assert.equal(live.engine.describe(sb.id), undefined);
      // Terminating what is gone stays quiet, as it does when waiting.
      await sb.terminate({ wait: false });
    } finally {
      unsubscribe();
    }
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
