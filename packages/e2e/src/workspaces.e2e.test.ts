import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AgentRunError, ConflictError, type Sandbox, SandboxServer } from '@mitos/sdk';
import { until } from '@mitos/testkit';
import { type LiveServer, liveServer, runCli } from './fixtures.js';

describe('end to end: workspaces on real sandboxes', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let server: SandboxServer;
  before(async () => {
    live = await liveServer({ workspaces: {} });
    server = new SandboxServer({ baseUrl: live.url });
    await server.ensureTemplate('python');
  });
  after(() => live.stop());

  const bound = (workspace: string): Promise<Sandbox> => server.fork('python', { workspace });
  const read = async (sb: Sandbox, path: string) => (await sb.exec(`cat ${path}`)).stdout;

  test('create, bind, write, terminate commits revision 1 with a diff; a second sandbox hydrates it', async () => {
    await server.workspaces.create('proj');
    const first = await bound('proj');
    await first.files.write('/workspace/plan.txt', 'draft');
    await first.exec(
      'mkdir -p /workspace/src/empty && printf "x = 1\\n" > /workspace/src/main.py && chmod 700 /workspace/src/main.py',
    );
    await first.terminate();
    const ws = await server.workspaces.get('proj');
    assert.equal(ws.head, 'proj-1');
    assert.equal(ws.writer, null);
    const diff = await server.workspaces.diff('proj');
    assert.deepEqual(diff, {
      revision: 'proj-1',
      against: null,
      added: ['plan.txt', 'src', 'src/empty', 'src/main.py'],
      removed: [],
      modified: [],
    });
    const [rev1] = await server.workspaces.log('proj');
    assert.match(rev1?.digest ?? '', /^[0-9a-f]{64}$/);
    assert.equal(rev1?.parent, null);

    const second = await bound('proj');
    assert.equal(await read(second, '/workspace/plan.txt'), 'draft');
    assert.equal(await read(second, '/workspace/src/main.py'), 'x = 1\n');
    assert.equal(
      (await second.exec('stat -c %a /workspace/src/main.py; test -d /workspace/src/empty && echo dir')).stdout,
      '700\ndir\n',
    );
    // Nothing changed: terminate commits no new revision.
    await second.terminate();
    assert.equal((await server.workspaces.get('proj')).revisions, 1);
  });

  test('a second writer is refused with workspace_busy and no sandbox is made', async () => {
    const writer = await bound('proj');
    const before = (await server.listSandboxes()).length;
    await assert.rejects(bound('proj'), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.equal((err as AgentRunError).code, 'workspace_busy');
      assert.equal((err as AgentRunError).context.writer, writer.id);
      return true;
    });
    assert.equal((await server.listSandboxes()).length, before);
    // Explicit commit while bound; the writer stays bound and its next commit has this parent.
    await writer.files.write('/workspace/plan.txt', 'final');
    await writer.files.remove('/workspace/src/main.py');
    const committed = await server.workspaces.commit('proj', writer.id, { message: 'finalise' });
    assert.equal(committed.revision?.id, 'proj-2');
    assert.equal(committed.revision?.parent, 'proj-1');
    assert.equal(committed.revision?.message, 'finalise');
    const diff = await server.workspaces.diff('proj', { revision: 'proj-2' });
    assert.deepEqual([diff.added, diff.removed, diff.modified], [[], ['src/main.py'], ['plan.txt']]);
    await assert.rejects(
      server.workspaces.revert('proj', 'proj-1'),
      (err) => (err as AgentRunError).code === 'workspace_busy',
    );
    await writer.exec('echo more > /workspace/more.txt');
    await writer.terminate();
    const log = await server.workspaces.log('proj');
    assert.deepEqual(
      log.map((r) => [r.id, r.parent]),
      [
        ['proj-3', 'proj-2'],
        ['proj-2', 'proj-1'],
        ['proj-1', null],
      ],
    );
  });

  test('fork into another workspace and diverge; revert; checkout into a running sandbox', async () => {
    const forked = await server.workspaces.fork('proj', 'proj-b', { revision: 'proj-1' });
    assert.equal(forked.id, 'proj-b-1');
    assert.equal(forked.parent, 'proj-1');
    const [p1] = (await server.workspaces.log('proj')).filter((r) => r.id === 'proj-1');
    assert.equal(forked.digest, p1?.digest, 'a fork shares its parent tree');
    const b = await bound('proj-b');
    assert.equal(await read(b, '/workspace/plan.txt'), 'draft');
    await b.files.write('/workspace/b.txt', 'only in b');
    await b.terminate();
    const a = await bound('proj');
    assert.equal((await a.exec('test -e /workspace/b.txt; echo $?')).stdout, '1\n');
    assert.equal(await read(a, '/workspace/plan.txt'), 'final');
    // Checkout replaces the tree of the running writer; its next commit's parent is that revision.
    await server.workspaces.checkout('proj', a.id, { revision: 'proj-1' });
    assert.equal(await read(a, '/workspace/plan.txt'), 'draft');
    assert.equal((await a.exec('test -e /workspace/more.txt; echo $?')).stdout, '1\n');
    await a.terminate({});
    assert.equal((await server.workspaces.get('proj')).head, 'proj-3', 'the checked-out tree equals proj-1: no commit');

    const reverted = await server.workspaces.revert('proj', 'proj-1');
    assert.deepEqual([reverted.id, reverted.parent, reverted.source], ['proj-4', 'proj-1', 'revert']);
    const c = await bound('proj');
    assert.equal(await read(c, '/workspace/plan.txt'), 'draft');
    await c.terminate();
  });

  test('unchanged files are stored once across revisions and workspaces', async () => {
    const store = live.workspaces?.store;
    assert.ok(store);
    const objects = new Set(await store.list());
    await server.workspaces.create('dedup');
    const sb = await bound('dedup');
    await sb.files.write('/workspace/plan.txt', 'draft'); // same bytes as proj's plan.txt
    await sb.terminate();
    const added = (await store.list()).filter((d) => !objects.has(d));
    assert.equal(added.length, 1, 'only the new manifest is stored; the file object is shared');
  });

  test('retention prunes the oldest revisions, never the head, and unreferenced objects go', async () => {
    await server.workspaces.create('keep', { retention: { revisions: 2 } });
    for (const text of ['one', 'two', 'three']) {
      const sb = await bound('keep');
      await sb.files.write('/workspace/v.txt', `${text} ${'x'.repeat(100)}`);
      await sb.terminate();
    }
    assert.deepEqual(
      (await server.workspaces.log('keep')).map((r) => r.id),
      ['keep-3', 'keep-2'],
    );
    const held = await server.workspaces.setRetention('keep', { revisions: 1 });
    assert.equal(held.revisions, 1);
    const sb = await bound('keep');
    assert.equal(await read(sb, '/workspace/v.txt'), `three ${'x'.repeat(100)}`);
    await sb.terminate({});
    await server.workspaces.create('young', { retention: { revisions: 1, minAgeSeconds: 3600 } });
    for (const text of ['a', 'b']) {
      const y = await bound('young');
      await y.files.write('/workspace/v.txt', text);
      await y.terminate();
    }
    assert.equal((await server.workspaces.log('young')).length, 2, 'minAge keeps young revisions');
  });

  test('a bound sandbox that reaches its deadline commits its workspace before it ends', async () => {
    await server.workspaces.create('timed');
    const sb = await bound('timed');
    await sb.files.write('/workspace/result.txt', 'finished');
    await sb.setTimeout(1);
    await until(
      async () => (await server.workspaces.get('timed')).writer === null,
      60_000,
      'the deadline to end the writer',
    );
    const ws = await server.workspaces.get('timed');
    assert.equal(ws.head, 'timed-1');
    assert.equal(ws.lastWriter?.sandbox, sb.id);
    assert.equal(ws.lastWriter?.reason, 'deadline');
    assert.equal(ws.lastWriter?.revision, 'timed-1');
    assert.equal(ws.lastWriter?.error, null);
    const next = await bound('timed');
    assert.equal(await read(next, '/workspace/result.txt'), 'finished');
    await next.terminate();
  });

  test('bad input: unknown workspace, bad names, unknown revisions', async () => {
    await assert.rejects(bound('nope'), (err) => (err as AgentRunError).code === 'not_found');
    await assert.rejects(
      server.workspaces.create('Bad_Name'),
      (err) => (err as AgentRunError).code === 'invalid_request',
    );
    await assert.rejects(server.workspaces.create('proj'), (err) => (err as AgentRunError).code === 'conflict');
    await assert.rejects(
      server.workspaces.revert('proj', 'proj-99'),
      (err) => (err as AgentRunError).code === 'not_found',
    );
    await assert.rejects(server.workspaces.fork('proj', 'proj-b'), (err) => (err as AgentRunError).code === 'conflict');
    await assert.rejects(
      server.workspaces.fork('proj', 'other', { revision: 'proj-b-1' }),
      (err) => (err as AgentRunError).code === 'not_found',
    );
  });

  test('the CLI: workspace create, ls, log, diff, fork, revert', async () => {
    const cli = (...args: string[]) => runCli(['--base-url', live.url, 'workspace', ...args]);
    assert.equal((await cli('create', 'cli-ws', '--keep', '5')).code, 0);
    const sb = await bound('cli-ws');
    await sb.files.write('/workspace/a.txt', 'a');
    await sb.terminate();
    const ls = await cli('ls');
    assert.match(ls.stdout, /cli-ws\s+cli-ws-1\s+1/);
    const log = await cli('log', 'cli-ws');
    assert.match(log.stdout, /cli-ws-1\s+\(root\)\s+commit/);
    assert.equal((await cli('diff', 'cli-ws')).stdout, 'A a.txt\n');
    const fork = await cli('fork', 'cli-ws', 'cli-ws2');
    assert.equal(fork.code, 0, fork.stderr);
    assert.match(fork.stdout, /forked cli-ws-1 into cli-ws2 as cli-ws2-1/);
    const revert = await cli('revert', 'cli-ws', 'cli-ws-1');
    assert.equal(revert.code, 0, revert.stderr);
    const busyFree = await cli('revert', 'cli-ws', 'cli-ws-9');
    assert.equal(busyFree.code, 3);
    assert.match(busyFree.stderr, /not_found/);
  });
});
