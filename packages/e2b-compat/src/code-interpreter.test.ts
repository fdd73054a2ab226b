/**
 * `@e2b/code-interpreter` (latest), unmodified: its default template `code-interpreter-v1` is our
 * code-interpreter image (python with its kernel, Node, the `user` account), and its /execute
 * and /contexts calls reach our run_code kernels. E2B's `python` (the same image) and `node`
 * templates are checked here too, with `e2b`'s Sandbox: their account is the image's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ExecutionError, Sandbox } from '@e2b/code-interpreter';
import { until } from '@mitos/testkit';
import { Sandbox as BaseSandbox, NotFoundError } from 'e2b';
import { type E2bServer, e2bServer, useE2bEnvironment } from './fixtures.js';

describe('@e2b/code-interpreter against mitos', { timeout: 600_000 }, () => {
  let live: E2bServer;
  let sb: Sandbox;
  before(async () => {
    // e2b-node: E2B's `node` (checked below beside `python`, which shares this image).
    live = await e2bServer({ templates: ['code-interpreter', 'e2b-node'] });
    useE2bEnvironment(live);
    sb = await Sandbox.create({ timeoutMs: 300_000 });
  });
  after(async () => {
    await sb?.kill().catch(() => {});
    await live.stop();
  });

  test('state persists across calls; the last expression is the main result', async () => {
    await sb.runCode('a = 20');
    await sb.runCode('b = a + 1');
    const ex = await sb.runCode('a + b');
    assert.equal(ex.error, undefined);
    assert.equal(ex.text, '41');
    assert.equal(ex.results[0]?.isMainResult, true);
    assert.ok((ex.executionCount ?? 0) >= 3);
  });

  test('stdout and stderr arrive as logs and through callbacks', async () => {
    const streamed: string[] = [];
    const ex = await sb.runCode('import sys\nprint("to out")\nprint("to err", file=sys.stderr)', {
      onStdout: (m) => {
        streamed.push(m.line);
      },
    });
    assert.deepEqual(ex.logs.stdout, ['to out\n']);
    assert.deepEqual(ex.logs.stderr, ['to err\n']);
    assert.deepEqual(streamed, ['to out\n']);
  });

  test('an exception is an ExecutionError with name, value and traceback', async () => {
    const errors: ExecutionError[] = [];
    const ex = await sb.runCode('def f():\n    return 1 / 0\nf()', { onError: (e) => errors.push(e) });
    assert.equal(ex.error?.name, 'ZeroDivisionError');
    assert.match(ex.error?.value ?? '', /division by zero/);
    assert.match(ex.error?.traceback ?? '', /line 2, in f\nZeroDivisionError/);
    assert.equal(errors.length, 1);
  });

  test('a matplotlib figure comes back as a PNG result', async () => {
    const ex = await sb.runCode(
      'import matplotlib.pyplot as plt\nplt.figure(figsize=(3, 2), dpi=50)\nplt.plot([1, 3, 2])\nplt.show()',
    );
    assert.equal(ex.error, undefined);
    const png = ex.results.find((r) => r.png)?.png;
    assert.ok(png, 'a result carries a png');
    const bytes = Buffer.from(png, 'base64');
    assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(bytes.readUInt32BE(16), 150);
    assert.equal(bytes.readUInt32BE(20), 100);
  });

  test('a JavaScript context on code-interpreter-v1 keeps its own state; it lists, restarts and goes', async () => {
    const js = await sb.createCodeContext({ language: 'javascript' });
    assert.equal(js.language, 'javascript');
    await sb.runCode('globalThis.n = 6', { context: js });
    const ex = await sb.runCode('n * 7', { context: js });
    assert.equal(ex.error, undefined);
    assert.equal(ex.text, '42');
    assert.equal((await sb.runCode('n')).error?.name, 'NameError', 'the python kernel does not see it');
    assert.ok((await sb.listCodeContexts()).some((c) => c.id === js.id && c.language === 'javascript'));
    await sb.restartCodeContext(js);
    const fresh = await sb.runCode('typeof n', { context: js });
    assert.equal(fresh.error, undefined);
    assert.match(fresh.text ?? '', /undefined/);
    await sb.removeCodeContext(js.id);
    assert.ok(!(await sb.listCodeContexts()).some((c) => c.id === js.id));
    await assert.rejects(sb.runCode('1', { context: js }), NotFoundError);
  });

  test('the image carries the user account (made by useradd, not at create) and Node', async () => {
    // The account the server adds at create has no shadow entry; the image's useradd made one.
    const shadow = await sb.commands.run('grep -c ^user: /etc/shadow', { user: 'root' });
    assert.equal(shadow.stdout, '1\n');
    const who = await sb.commands.run('id -un; id -u; echo $HOME; ls -ld /home/user | cut -d" " -f3');
    assert.equal(who.stdout, 'user\n1000\n/home/user\nuser\n');
    assert.equal((await sb.commands.run('command -v node')).stdout.trim(), '/usr/bin/node');
  });

  for (const [template, version] of [
    ['python', 'python3 --version'],
    ['node', 'node --version'],
  ] as const) {
    test(`E2B's ${template} template: the user account from its image, the runtime runs as user`, async () => {
      const other = await BaseSandbox.create(template, { timeoutMs: 120_000 });
      try {
        assert.equal((await other.commands.run('grep -c ^user: /etc/shadow', { user: 'root' })).stdout, '1\n');
        const who = await other.commands.run('id -un; echo $HOME; pwd');
        assert.equal(who.stdout, 'user\n/home/user\n/home/user\n');
        assert.equal((await other.commands.run(version)).exitCode, 0);
        assert.equal((await other.getInfo()).templateId, template);
      } finally {
        await other.kill();
      }
    });
  }

  test('several contexts of one language each keep their own state beside the default kernel', async () => {
    await sb.runCode('who = "default"');
    const first = await sb.createCodeContext({ language: 'python', cwd: '/tmp' });
    const second = await sb.createCodeContext({ language: 'python' });
    await sb.runCode('who = "first"', { context: first });
    await sb.runCode('who = "second"', { context: second });
    assert.equal((await sb.runCode('who', { context: first })).text, "'first'");
    assert.equal((await sb.runCode('who', { context: second })).text, "'second'");
    assert.equal((await sb.runCode('who')).text, "'default'");
    assert.equal((await sb.runCode('import os; os.getcwd()', { context: first })).text, "'/tmp'");
    assert.equal((await sb.runCode('import os; os.getcwd()', { context: second })).text, "'/home/user'");
    const ids = (await sb.listCodeContexts()).map((c) => c.id);
    assert.ok(ids.includes(first.id) && ids.includes(second.id));
    // A restart empties only that context and keeps its cwd.
    await sb.restartCodeContext(first);
    const gone = await sb.runCode('who', { context: first });
    assert.equal(gone.error?.name, 'NameError');
    assert.equal((await sb.runCode('import os; os.getcwd()', { context: first })).text, "'/tmp'");
    assert.equal((await sb.runCode('who', { context: second })).text, "'second'");
    await sb.removeCodeContext(first);
    await sb.removeCodeContext(second);
    await assert.rejects(sb.runCode('who', { context: second }), NotFoundError);
    assert.equal((await sb.runCode('who')).text, "'default'");
  });
  test("a restarted server lists a running sandbox's contexts: kernels kept, or a dead one recreated", async () => {
    const kept = await sb.createCodeContext({ language: 'python', cwd: '/tmp' });
    const lost = await sb.createCodeContext({ language: 'python', cwd: '/srv' });
    await sb.runCode('kept = 41', { context: kept });
    await sb.runCode('lost = 1', { context: lost });
    // lost's kernel dies while the server is away (ended by pid, and waited for).
    const lostKernels = async () =>
      (await live.engine.listProcesses(sb.sandboxId)).filter((p) =>
        p.command.split(/\s+/).some((arg) => arg.endsWith(`kernel-python-${lost.id}.sock`)),
      );
    const pids = (await lostKernels()).map((p) => p.pid);
    assert.ok(pids.length > 0, 'the context has a kernel process');
    for (const pid of pids) await live.engine.signalProcess(sb.sandboxId, pid, 9);
    // Gone means reaped (signal 0 finds nothing), not only out of the listing, where a killed
    // kernel's zombie main thread vanishes while its other threads still hold the socket.
    const reaped = (pid: number) =>
      live.engine.signalProcess(sb.sandboxId, pid, 0).then(
        () => false,
        () => true,
      );
    await until(async () => (await Promise.all(pids.map(reaped))).every(Boolean), 10_000, "lost's kernel to be gone");
    await live.restart();
    const listed = (await sb.listCodeContexts()).filter((c) => c.id === kept.id || c.id === lost.id);
    assert.deepEqual(
      listed.map((c) => [c.id, c.cwd]),
      [
        [kept.id, '/tmp'],
        [lost.id, '/srv'],
      ],
    );
    assert.equal((await sb.runCode('kept + 1', { context: kept })).text, '42');
    // Recreated honestly: a fresh kernel (its variables gone) in the context's own cwd.
    assert.equal((await sb.runCode('lost', { context: lost })).error?.name, 'NameError');
    assert.equal((await sb.runCode('import os; os.getcwd()', { context: lost })).text, "'/srv'");
    for (const c of [kept, lost]) await sb.removeCodeContext(c);
    assert.ok(!(await sb.listCodeContexts()).some((c) => c.id === kept.id || c.id === lost.id));
  });
});
