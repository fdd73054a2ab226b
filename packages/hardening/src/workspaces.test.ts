/**
 * A hostile sandbox bound to a workspace: it fills /workspace with symlinks to host paths,
 * hard links, device nodes, FIFOs, sockets, sparse giant files and deep trees, and swaps
 * directories for symlinks before a checkout. Nothing may reach the host on commit or hydrate:
 * only directories and regular files are captured (by the sandbox's own agent, inside its
 * namespaces), sizes are capped, and every write of a hydrate lands inside the sandbox.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type AgentRunError, SandboxServer } from '@mitos/sdk';
import { leaksOf } from './host.js';
import { type LiveServer, liveServer } from './live.js';

describe('a hostile sandbox cannot escape through its workspace', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let server: SandboxServer;
  before(async () => {
    live = await liveServer({ workspaces: true });
    server = new SandboxServer({ baseUrl: live.url });
    await server.ensureTemplate('python');
  });
  after(async () => {
    const { stateDir } = live.env;
    const parent = live.env.cgroupParent;
    await live.stop();
    assert.deepEqual(leaksOf(stateDir, parent), []);
  });

  test('symlinks, hard links, devices, FIFOs and sockets are not captured; a giant file is refused', async () => {
    await server.workspaces.create('hostile');
    const sb = await server.fork('python', { workspace: 'hostile' });
    const setup = await sb.exec(
      [
        'cd /workspace',
        'ln -s /etc/shadow shadow-link',
        'ln -s / root-link',
        'ln /etc/passwd hard-passwd',
        'mkfifo fifo',
        'python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind(\'/workspace/sock\')"',
        '(mknod null-dev c 1 3 2>/dev/null || true)',
        'mkdir -p deep && cd deep && for i in $(seq 1 60); do mkdir d && cd d; done && echo bottom > f',
        'cd /workspace && truncate -s 5G giant',
        'echo kept > ok.txt',
      ].join(' && '),
    );
    assert.equal(setup.exitCode, 0, setup.stderr);
    await assert.rejects(server.workspaces.commit('hostile', sb.id), (err: unknown) => {
      assert.equal((err as AgentRunError).code, 'workspace_too_large');
      assert.equal((err as AgentRunError).context.path, 'giant');
      return true;
    });
    // A refused commit leaves no revision and no stored object behind.
    assert.equal((await server.workspaces.get('hostile')).revisions, 0);
    assert.deepEqual(await live.workspaces?.store.list(), []);
    // Terminate also refuses (and keeps the sandbox), so the data is not lost silently.
    await assert.rejects(sb.terminate(), (err) => (err as AgentRunError).code === 'workspace_too_large');
    await sb.exec('rm /workspace/giant');
    const out = await server.workspaces.commit('hostile', sb.id);
    assert.ok(out.revision);
    assert.deepEqual(
      out.skipped,
      ['fifo', 'root-link', 'shadow-link', 'sock'].concat(out.skipped.includes('null-dev') ? ['null-dev'] : []).sort(),
    );
    const diff = await server.workspaces.diff('hostile');
    assert.ok(!diff.added.some((p) => p.includes('link') || p === 'fifo' || p === 'sock'), diff.added.join(','));
    // The hard link is captured as the sandbox's own file content, never the host's.
    assert.ok(diff.added.includes('hard-passwd'));
    const sandboxPasswd = (await sb.exec('cat /etc/passwd')).stdout;
    await sb.terminate();
    const reader = await server.fork('python', { workspace: 'hostile' });
    assert.equal((await reader.exec('cat /workspace/hard-passwd')).stdout, sandboxPasswd);
    assert.equal((await reader.exec('test -L /workspace/shadow-link; echo $?')).stdout, '1\n');
    assert.equal((await reader.exec(`cat /workspace/deep/${'d/'.repeat(60)}f`)).stdout, 'bottom\n');
    await reader.terminate({});
  });

  test('a checkout into a sandbox whose tree is a symlink farm writes only inside the sandbox', async () => {
    const canary = `mitos-hardening-ws-${randomBytes(6).toString('hex')}`;
    await server.workspaces.create('farm');
    const seed = await server.fork('python', { workspace: 'farm' });
    await seed.exec(
      `mkdir -p /workspace/tmp && echo planted > /workspace/tmp/${canary} && echo cfg > /workspace/etc-file`,
    );
    await seed.terminate();
    const victim = await server.fork('python', { workspace: 'farm' });
    // The sandbox points its tree at "host" paths: they resolve inside its own root.
    await victim.exec('rm -rf /workspace/tmp && ln -s /tmp /workspace/tmp && ln -sf /etc/passwd /workspace/etc-file');
    await server.workspaces.checkout('farm', victim.id);
    assert.equal(existsSync(`/tmp/${canary}`), false, 'the host /tmp was not written');
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes('cfg\n'));
    assert.equal((await victim.exec(`cat /workspace/tmp/${canary}`)).stdout, 'planted\n');
    await victim.terminate({});
  });

  test('a second tenant cannot commit, check out into, or steal another writer binding', async () => {
    await server.workspaces.create('owned');
    const owner = await server.fork('python', { workspace: 'owned' });
    const other = await server.fork('python');
    await assert.rejects(
      server.workspaces.commit('owned', other.id),
      (err) => (err as AgentRunError).code === 'workspace_busy',
    );
    await assert.rejects(
      server.workspaces.checkout('owned', other.id),
      (err) => (err as AgentRunError).code === 'workspace_busy',
    );
    await assert.rejects(
      server.fork('python', { workspace: 'owned' }),
      (err) => (err as AgentRunError).code === 'workspace_busy',
    );
    await assert.rejects(
      server.workspaces.create('../../etc'),
      (err) => (err as AgentRunError).code === 'invalid_request',
    );
    await owner.terminate();
    await other.terminate();
  });

  test('a refused commit cannot keep a sandbox past its deadline; the workspace says why', async () => {
    await server.workspaces.create('overdue');
    const sb = await server.fork('python', { workspace: 'overdue' });
    const setup = await sb.exec('cd /workspace && truncate -s 5G giant && echo partial > work.txt');
    assert.equal(setup.exitCode, 0, setup.stderr);
    await sb.setTimeout(1);
    // The binding ends (after the commit attempt) before the sandbox is torn down: wait for both.
    const deadline = Date.now() + 60_000;
    const ended = async () =>
      (await server.workspaces.get('overdue')).writer === null &&
      !(await server.listSandboxes()).some((s) => s.id === sb.id);
    while (!(await ended())) {
      assert.ok(Date.now() < deadline, 'the deadline never ended the sandbox and its binding');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ws = await server.workspaces.get('overdue');
    assert.equal(ws.head, null, 'nothing was committed');
    assert.equal(ws.lastWriter?.reason, 'deadline');
    assert.equal(ws.lastWriter?.error?.code, 'workspace_too_large');
  });
});
