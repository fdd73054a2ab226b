/**
 * The latest `e2b` SDK, unmodified, against the real server: configured only through
 * E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthenticationError, CommandExitError, NotFoundError, Sandbox, SandboxNotFoundError, TimeoutError } from 'e2b';
import { type E2bServer, e2bServer, TEST_KEY, useE2bEnvironment } from './fixtures.js';
import { getViaHost } from './http-get.js';

describe('e2b SDK (latest) against mitos', { timeout: 600_000 }, () => {
  let live: E2bServer;
  let sb: Sandbox;
  before(async () => {
    live = await e2bServer({ templates: ['e2b-base', 'code-interpreter'] });
    useE2bEnvironment(live);
    sb = await Sandbox.create({
      timeoutMs: 300_000,
      metadata: { suite: 'sdk', run: 'one' },
      envs: { FROM_CREATE: 'yes' },
    });
  });
  after(async () => {
    await sb?.kill().catch(() => {});
    await live.stop();
  });

  test('create reports an E2B-shaped sandbox; commands run as user in /home/user', async () => {
    assert.match(sb.sandboxId, /^[a-z0-9]+$/);
    const r = await sb.commands.run('id -un; pwd; echo $HOME $FROM_CREATE');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'user\n/home/user\n/home/user yes\n');
    const root = await sb.commands.run('id -u', { user: 'root' });
    assert.equal(root.stdout.trim(), '0');
    // The account's ids, its groups from the sandbox's /etc/group (read at each start, as a
    // login reads them) and a login shell's environment, as envd gives them.
    await sb.commands.run('groupadd --gid 1234 extra && usermod -aG extra user', { user: 'root' });
    const who = await sb.commands.run(
      'id -u; id -g; id -Gn; echo $HOME $USER $LOGNAME; shopt -q login_shell && echo login',
    );
    assert.equal(who.stdout, '1000\n1000\nuser extra\n/home/user user user\nlogin\n');
  });

  test('run: stdout, stderr, envs, cwd, and a failing exit code as CommandExitError', async () => {
    const r = await sb.commands.run('echo out; echo err >&2; echo $GREETING; pwd', {
      envs: { GREETING: 'hello' },
      cwd: '/tmp',
    });
    assert.equal(r.stdout, 'out\nhello\n/tmp\n');
    assert.equal(r.stderr, 'err\n');
    await assert.rejects(sb.commands.run('echo bad >&2; exit 7'), (err: unknown) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 7);
      assert.equal(err.stderr, 'bad\n');
      return true;
    });
  });

  test('streaming callbacks arrive before the command exits', async () => {
    const seen: string[] = [];
    const handle = await sb.commands.run('echo first; sleep 30', {
      background: true,
      onStdout: (d) => {
        seen.push(d);
      },
    });
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(seen, ['first\n']);
    assert.equal(handle.exitCode, undefined);
    await handle.kill();
  });

  test('a command past its timeout raises TimeoutError', async () => {
    await assert.rejects(sb.commands.run('sleep 20', { timeoutMs: 500 }), TimeoutError);
  });

  test('background commands: list, connect, kill', async () => {
    const handle = await sb.commands.run('echo started; sleep 60', { background: true });
    const listed = await sb.commands.list();
    const mine = listed.find((p) => p.pid === handle.pid);
    assert.ok(mine, 'the background command is listed');
    assert.deepEqual(mine.args.slice(-1), ['echo started; sleep 60']);
    const again = await sb.commands.connect(handle.pid);
    assert.equal(again.pid, handle.pid);
    assert.equal(await sb.commands.kill(handle.pid), true);
    await assert.rejects(again.wait(), CommandExitError);
    const after = await sb.commands.list();
    assert.equal(
      after.find((p) => p.pid === handle.pid),
      undefined,
    );
  });

  test('stdin: send and close', async () => {
    const handle = await sb.commands.run('cat', { background: true, stdin: true });
    await sb.commands.sendStdin(handle.pid, 'line one\n');
    await sb.commands.closeStdin(handle.pid);
    const r = await handle.wait();
    assert.equal(r.stdout, 'line one\n');
  });

  test('pty: create, input, resize, kill', async () => {
    let output = '';
    const decoder = new TextDecoder();
    const pty = await sb.pty.create({
      cols: 80,
      rows: 24,
      onData: (d) => {
        output += decoder.decode(d);
      },
    });
    await sb.pty.sendInput(pty.pid, new TextEncoder().encode('stty size; echo tty-$((6*7))\n'));
    for (let i = 0; i < 200 && !output.includes('tty-42'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(output, /24 80/);
    assert.match(output, /tty-42/);
    await sb.pty.resize(pty.pid, { cols: 100, rows: 30 });
    output = '';
    await sb.pty.sendInput(pty.pid, new TextEncoder().encode('stty size\n'));
    for (let i = 0; i < 200 && !output.includes('30 100'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(output, /30 100/);
    assert.equal(await sb.pty.kill(pty.pid), true);
  });

  test('files: text, bytes, list, exists, makeDir, rename, remove', async () => {
    const info = await sb.files.write('notes/a.txt', 'alpha');
    assert.equal(info.path, '/home/user/notes/a.txt');
    assert.equal(await sb.files.read('notes/a.txt'), 'alpha');
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await sb.files.write('/tmp/blob.bin', bytes.buffer);
    assert.deepEqual(await sb.files.read('/tmp/blob.bin', { format: 'bytes' }), bytes);
    const owner = await sb.commands.run('stat -c %U /home/user/notes /home/user/notes/a.txt');
    assert.equal(owner.stdout, 'user\nuser\n');
    assert.equal(await sb.files.makeDir('notes/sub'), true);
    assert.equal(await sb.files.makeDir('notes/sub'), false);
    const names = (await sb.files.list('notes')).map((e) => `${e.name}:${e.type}`).sort();
    assert.deepEqual(names, ['a.txt:file', 'sub:dir']);
    assert.equal(await sb.files.exists('notes/a.txt'), true);
    await sb.files.rename('notes/a.txt', 'notes/b.txt');
    assert.equal(await sb.files.exists('notes/a.txt'), false);
    assert.equal(await sb.files.read('notes/b.txt'), 'alpha');
    await sb.files.remove('notes');
    assert.equal(await sb.files.exists('notes'), false);
    await assert.rejects(sb.files.read('missing.txt'), NotFoundError);
  });

  test('files: watchDir reports a write, and what a command does below, as it happens', async () => {
    await sb.files.makeDir('watched');
    const events: string[] = [];
    const watcher = await sb.files.watchDir(
      'watched',
      (e) => {
        events.push(`${e.type}:${e.name}`);
      },
      { recursive: true },
    );
    const waitFor = async (event: string) => {
      for (let i = 0; i < 400 && !events.includes(event); i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(events.includes(event), `${event} in ${events.join(',')}`);
    };
    await sb.files.write('watched/new.txt', 'x');
    await waitFor('write:new.txt');
    assert.ok(events.includes('create:new.txt'), events.join(','));
    assert.ok(!events.some((e) => e.includes('.mitos-write')), events.join(','));
    // A rename is its own event (inotify's), not a remove and a create as a poller would see it.
    // A new directory is watched once its create is reported (what lands in it before is not).
    await sb.commands.run('mkdir watched/sub');
    await waitFor('create:sub');
    await sb.commands.run('cd watched/sub && echo x > a && mv a b && rm b');
    await waitFor('remove:sub/b');
    for (const e of ['create:sub/a', 'write:sub/a', 'rename:sub/a', 'create:sub/b']) {
      assert.ok(events.includes(e), `${e} in ${events.join(',')}`);
    }
    await watcher.stop();
  });

  test('signed URLs: upload then download with plain fetch', async () => {
    const up = await sb.uploadUrl('signed.txt');
    const form = new FormData();
    form.append('file', new Blob(['via signed url']), 'signed.txt');
    const put = await fetch(up, { method: 'POST', body: form });
    assert.equal(put.status, 200, await put.clone().text());
    const down = await fetch(await sb.downloadUrl('signed.txt', { useSignatureExpiration: 60 }));
    assert.equal(down.status, 200);
    assert.equal(await down.text(), 'via signed url');
    const tampered = new URL(await sb.downloadUrl('signed.txt'));
    tampered.searchParams.set('path', '/etc/passwd');
    assert.equal((await fetch(tampered)).status, 401);
  });

  test('getHost reaches a server inside through the port proxy', async () => {
    // The base template has no HTTP server; the code interpreter template has Python.
    const web = await Sandbox.create('code-interpreter-v1', { timeoutMs: 120_000 });
    after(() => web.kill().catch(() => {}));
    await web.files.write('site/index.html', 'hello from inside');
    await web.commands.run('cd site && exec python3 -m http.server 8000', { background: true });
    const host = web.getHost(8000);
    assert.equal(host, `8000-${web.sandboxId}.localhost:${new URL(live.url).port}`);
    let reply = { status: 0, body: '' };
    for (let i = 0; i < 100 && reply.status !== 200; i++) {
      reply = await getViaHost(live.url, host, '/index.html');
      if (reply.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'hello from inside');
    assert.equal((await getViaHost(live.url, web.getHost(8001))).status, 502);
  });

  test('setTimeout, getInfo, list with filters', async () => {
    await sb.setTimeout(120_000);
    const info = await sb.getInfo();
    assert.equal(info.sandboxId, sb.sandboxId);
    assert.equal(info.state, 'running');
    assert.deepEqual(info.metadata, { suite: 'sdk', run: 'one' });
    const leftMs = info.endAt.getTime() - Date.now();
    assert.ok(leftMs > 100_000 && leftMs <= 120_000, `endAt ${leftMs} ms away`);
    const found = await Sandbox.list({ query: { metadata: { suite: 'sdk' }, state: ['running'] } }).nextItems();
    assert.deepEqual(
      found.map((s) => s.sandboxId),
      [sb.sandboxId],
    );
    const none = await Sandbox.list({ query: { metadata: { suite: 'other' } } }).nextItems();
    assert.deepEqual(none, []);
  });

  test('metrics and logs', async () => {
    const [m] = await sb.getMetrics();
    assert.ok(m, 'one sample');
    assert.equal(m.cpuCount, 1);
    assert.ok(m.memUsed > 0 && m.memUsed <= m.memTotal, `memory ${m.memUsed}/${m.memTotal}`);
    const res = await fetch(`${live.e2bUrl}/v2/sandboxes/${sb.sandboxId}/logs`, { headers: { 'X-API-KEY': TEST_KEY } });
    const { logs } = (await res.json()) as { logs: { message: string; fields: Record<string, string> }[] };
    assert.equal(logs[0]?.message, 'sandbox created');
    assert.ok(
      logs.some((l) => l.message === 'process ended' && l.fields.exit_code === '7'),
      'the failed command is logged',
    );
  });

  test('pause, list as paused, connect resumes with memory kept', async () => {
    const other = await Sandbox.create({ timeoutMs: 120_000, metadata: { suite: 'pause' } });
    try {
      await other.commands.run('echo kept > /tmp/state');
      const bg = await other.commands.run('sleep 300', { background: true });
      assert.equal(await other.pause(), true);
      const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
      assert.deepEqual(
        paused.map((s) => s.sandboxId),
        [other.sandboxId],
      );
      const back = await Sandbox.connect(other.sandboxId);
      assert.equal((await back.getInfo()).state, 'running');
      assert.equal((await back.commands.run('cat /tmp/state')).stdout, 'kept\n');
      assert.ok(
        (await back.commands.list()).some((p) => p.pid === bg.pid),
        'the process survived the pause',
      );
    } finally {
      await other.kill();
    }
  });

  test('fork(count 2): independent children with the parent files', async () => {
    await sb.files.write('/tmp/fork-me', 'parent');
    const forks = await sb.fork({ count: 2 });
    assert.equal(forks.length, 2);
    const [a, b] = forks as Sandbox[];
    assert.ok(a instanceof Sandbox && b instanceof Sandbox);
    try {
      assert.notEqual(a.sandboxId, b.sandboxId);
      assert.equal(await a.files.read('/tmp/fork-me'), 'parent');
      await a.files.write('/tmp/fork-me', 'child a');
      assert.equal(await b.files.read('/tmp/fork-me'), 'parent');
      assert.equal(await sb.files.read('/tmp/fork-me'), 'parent');
      assert.equal((await a.commands.run('id -un')).stdout, 'user\n');
    } finally {
      await a.kill();
      await b.kill();
    }
  });

  test('kill, then the SDK raises its own not-found errors', async () => {
    const doomed = await Sandbox.create({ timeoutMs: 60_000 });
    assert.equal(await doomed.kill(), true);
    assert.equal(await Sandbox.kill(doomed.sandboxId), false);
    await assert.rejects(Sandbox.getInfo(doomed.sandboxId), SandboxNotFoundError);
    await assert.rejects(Sandbox.connect(doomed.sandboxId), SandboxNotFoundError);
  });

  test('authentication: a wrong key is an AuthenticationError', async () => {
    await assert.rejects(Sandbox.create({ apiKey: `e2b_${'0'.repeat(40)}` }), AuthenticationError);
  });

  test('internet access is enforced as a network posture: a link when on, loopback alone when off', async () => {
    const links = async (sb: Sandbox) =>
      (await sb.commands.run("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).stdout.trim().split('\n').sort();
    const online = await Sandbox.create({ allowInternetAccess: true, timeoutMs: 60_000 });
    try {
      assert.equal((await online.getInfo()).allowInternetAccess, true);
      const names = await links(online);
      assert.ok(names.includes('lo') && names.length > 1, `interfaces: ${names.join(', ')}`);
    } finally {
      await online.kill();
    }
    const offline = await Sandbox.create({ allowInternetAccess: false, timeoutMs: 60_000 });
    assert.equal((await offline.getInfo()).allowInternetAccess, false);
    assert.deepEqual(await links(offline), ['lo']);
    await offline.kill();
  });
});
