import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { testEngineEnv, until } from '@mitos/testkit';
import type { LinuxEngine } from '../drivers/linux/engine.js';

/**
 * The must-show: a parent running a web server, a counter in memory, a shell loop and a
 * JavaScript kernel with state forks into 3 with `processes: "all"`; each child has all of it,
 * on its own, and outlives the parent. `auto` of that parent carries its processes too.
 */
describe('a linux fork that carries every process', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const parent = `carry-${process.pid}`;
  const sh = async (id: string, command: string) =>
    (await engine.exec(id, { command, timeoutMs: 20_000 })).stdout.toString().trim();
  const count = async (id: string) => Number((await sh(id, 'cat /tmp/count 2>/dev/null || echo 0')) || '0');
  const js = async (id: string, code: string) => {
    const r = await engine.runCode(id, { language: 'javascript', code, timeoutMs: 30_000 });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    return r.results.find((x) => x.isMainResult)?.text;
  };
  const lines = async (id: string) => Number(await sh(id, 'wc -l < /tmp/loop 2>/dev/null || echo 0'));
  const get = 'python3 -c "import urllib.request as u; print(u.urlopen(\'http://127.0.0.1:8000/\').status)"';
  const clocks = async (id: string) =>
    (
      await sh(
        id,
        'python3 -c "import time; print(time.clock_gettime(time.CLOCK_MONOTONIC), time.clock_gettime(time.CLOCK_BOOTTIME), time.time())"',
      )
    )
      .split(' ')
      .map(Number);

  before(async () => {
    engine = await env.open();
    await engine.ensureTemplate({ id: 'code-interpreter' });
    await engine.create({ id: parent, templateId: 'code-interpreter' });
  });
  after(() => env.cleanup());

  test('server, counter, shell loop and JS kernel go on in each of 3 children', async () => {
    // As the issue starts it: each request is logged to stderr, the background command's pipe,
    // which must still be read in every child or the server drops the request.
    await engine.startProcess(parent, { command: 'cd /tmp && exec python3 -m http.server 8000', timeoutMs: 0 });
    const counter = `exec python3 -c "import time\nbig = bytearray(8 << 20)\nn = 0\nwhile True:\n    n += 1\n    open('/tmp/count', 'w').write(str(n))\n    time.sleep(0.05)"`;
    await engine.startProcess(parent, { command: counter, timeoutMs: 0 });
    await engine.startProcess(parent, {
      command: 'while true; do echo x >> /tmp/loop; sleep 0.05; done',
      timeoutMs: 0,
    });
    // On each /tmp/spew, 1 MiB to stdout: more than a pipe holds, so it finishes only while
    // something reads the pipe it was started with.
    await engine.startProcess(parent, {
      command:
        'while true; do if [ -e /tmp/spew ]; then rm /tmp/spew; head -c 1048576 /dev/zero && echo $((n += 1)) > /tmp/spewed; fi; sleep 0.05; done',
      timeoutMs: 0,
    });
    assert.equal(await js(parent, 'globalThis.kept = 41; kept + 1'), '42');
    await until(async () => (await count(parent)) > 0 && (await lines(parent)) > 0, 30_000, 'the parent to run');
    await until(async () => (await sh(parent, get)) === '200', 30_000, 'the parent server');

    const beforeFork = await count(parent);
    const clocksAtFork = await clocks(parent);
    const outcome = await engine.fork(parent, { count: 3, processes: 'all' });
    assert.equal(outcome.carried.processes, true);
    assert.deepEqual(outcome.carried.processesNotCarried, []);
    const atFork = await count(parent);
    const children = outcome.children.map((c) => c.id);
    assert.equal(children.length, 3);

    for (const child of children) {
      // The counter rewrites its file (truncate, then write): a read may catch it empty.
      await until(async () => (await count(child)) > 0, 20_000, `${child}'s counter file`);
      // Its own pid namespace: the counter is a process of the child, not a view of the parent,
      // and it goes on from the parent's value (its memory), not from 0.
      const c0 = await count(child);
      assert.ok(c0 >= beforeFork && c0 <= atFork + 1000, `child counter ${c0} (parent ${beforeFork} to ${atFork})`);
      await until(async () => (await count(child)) > c0, 20_000, `${child}'s counter to go on`);
      const l0 = await lines(child);
      await until(async () => (await lines(child)) > l0, 20_000, `${child}'s loop to go on`);
      // Its background commands' output is still read: 1 MiB written to stdout goes through.
      await sh(child, 'rm -f /tmp/spewed; touch /tmp/spew');
      await until(
        async () => (await sh(child, 'cat /tmp/spewed 2>/dev/null')) !== '',
        20_000,
        `${child}'s 1 MiB of output`,
      );
      // Its own server, answering every request (each one logged to the carried stderr pipe).
      for (let i = 0; i < 3; i++) assert.equal(await sh(child, get), '200', `${child}'s own server, request ${i}`);
      // The clocks go on from the parent's: neither monotonic nor boot time jumps back, and the
      // wall clock is the host's.
      const hostBefore = Date.now() / 1000;
      const [mono = 0, boot = 0, wall = 0] = await clocks(child);
      const hostAfter = Date.now() / 1000;
      assert.ok(mono >= (clocksAtFork[0] as number), `${child}'s monotonic clock ${mono} (parent ${clocksAtFork[0]})`);
      assert.ok(boot >= (clocksAtFork[1] as number), `${child}'s boot time ${boot} (parent ${clocksAtFork[1]})`);
      assert.ok(wall >= hostBefore - 1 && wall <= hostAfter + 1, `${child}'s wall clock ${wall} (host ${hostBefore})`);
      assert.equal(await js(child, 'kept'), '41', `${child}'s JS kernel state`);
      // A fresh hostname, the child's own.
      assert.equal(await sh(child, 'hostname'), engine.get(child)?.hostname ?? '');
    }
    // Diverged: each child writes its own /tmp/count, so the parent's keeps its own course.
    assert.equal(await js(children[0] as string, 'kept = 7'), '7');
    assert.equal(await js(children[1] as string, 'kept'), '41');
    assert.equal(await js(parent, 'kept'), '41');

    // `auto` carries them too, since the parent runs processes beyond its agent.
    const auto = await engine.fork(parent, { count: 1, processes: 'auto' });
    assert.equal(auto.carried.processes, true);
    assert.deepEqual(auto.carried.processesNotCarried, []);
    const autoChild = auto.children[0]?.id as string;
    await until(async () => (await count(autoChild)) > 0, 20_000, "the auto child's counter file");
    const a0 = await count(autoChild);
    await until(async () => (await count(autoChild)) > a0, 20_000, "the auto child's counter to go on");
    await engine.terminate(autoChild);

    // The parent is unaffected, and ending it leaves the children running.
    const p0 = await count(parent);
    await until(async () => (await count(parent)) > p0, 20_000, "the parent's counter to go on");
    await engine.terminate(parent);
    for (const child of children) {
      const c = await count(child);
      await until(async () => (await count(child)) > c, 20_000, `${child}'s counter after the parent ended`);
    }
    // The images are gone once the children run.
    assert.deepEqual(
      readdirSync('/dev/shm').filter((n) => n.startsWith(`${env.stateDir.split('/').pop()}-fork-`)),
      [],
    );
  });
});
