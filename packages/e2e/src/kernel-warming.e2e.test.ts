// Kernels started ahead where it pays (the engine's default, `auto`), through the SDK against a
// real server on the real engine: a template's pool starts no kernel until its sandboxes run
// code; after a run_code the pooled sandboxes get a python kernel, and the next sandbox's first
// cell runs in that kernel, told its own hostname and env.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { type LiveServer, liveServer } from './fixtures.js';

const KERNEL = /mitos_kernel\.py/;

describe('end to end: kernels started ahead once run_code is in use', { timeout: 600_000 }, () => {
  let live: LiveServer;
  const made: Sandbox[] = [];
  /** The template's pool holds one sandbox and is not refilling or warming one. */
  const poolSettled = async (template = 'python') => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const t = live.engine.pool?.status().templates.find((x) => x.template === template);
      if (t && t.ready >= 1 && !t.refilling) return;
      assert.ok(Date.now() < deadline, 'the warm pool did not settle within 120 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kernelsIn = async (id: string) =>
    (await live.engine.listProcesses(id)).filter((p) => KERNEL.test(p.command)).map((p) => p.pid);

  before(async () => {
    live = await liveServer({ engineOptions: { warmPoolSize: 1 } });
  });
  after(async () => {
    for (const s of made) await s.terminate().catch(() => {});
    await live.stop();
  });

  test('no kernel ahead before any run_code; one in the pool after, told its new identity', async () => {
    const first = await create('python', { baseUrl: live.url });
    made.push(first);
    await poolSettled();
    const plain = await create('python', { baseUrl: live.url });
    made.push(plain);
    assert.deepEqual(await kernelsIn(plain.id), [], 'a pool whose template ran no code starts no kernel');

    const used = await first.runCode('21 * 2');
    assert.equal(used.text, '42');
    // That use turned the pool on before it answered: the pool reports refilling until its
    // sandbox already pooled has a kernel.
    await poolSettled();
    const warmed = await create('python', { baseUrl: live.url, env: { TEAM: 'kernels' } });
    made.push(warmed);
    const before = await kernelsIn(warmed.id);
    assert.equal(before.length, 1, 'the sandbox from the pool has its kernel running before any cell');
    const cell = await warmed.runCode(
      'import json, os\nprint(json.dumps([os.getpid(), os.environ["HOSTNAME"], os.environ["TEAM"]]))',
    );
    assert.equal(cell.error, undefined, JSON.stringify(cell.error));
    const [pid, hostname, team] = JSON.parse(cell.logs.stdout.join(''));
    assert.equal(hostname, warmed.id, 'the kernel started ahead was told its sandbox’s hostname');
    assert.equal(team, 'kernels', 'and its env');
    assert.equal(typeof pid, 'number');
    assert.deepEqual(await kernelsIn(warmed.id), before, 'the first cell ran in the kernel started ahead');
  });

  test('the code-interpreter template (E2B code-interpreter-v1) has python kernels in its pool without any run_code', async () => {
    await live.engine.ensureTemplate({ id: 'code-interpreter' });
    await poolSettled('code-interpreter');
    const sb = await create('code-interpreter', { baseUrl: live.url });
    made.push(sb);
    const before = await kernelsIn(sb.id);
    assert.equal(before.length, 1, 'its kernel was started in the pool');
    assert.equal((await sb.runCode('import os\nos.environ["HOSTNAME"]')).text, `'${sb.id}'`);
    assert.deepEqual(await kernelsIn(sb.id), before, 'the first cell ran in it');
  });
});
