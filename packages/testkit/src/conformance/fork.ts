/** Conformance: live fork into independent copy-on-write children. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Engine, SandboxInfo } from '@mitos/engine';
import { type ConformanceHarness, expectCode, sh } from './helpers.js';

export function describeForkConformance(driver: string, harness: ConformanceHarness): void {
  describe(`engine conformance: ${driver}: fork`, { timeout: 600_000 }, () => {
    let engine: Engine;
    const parent = `fork-p-${process.pid}`;
    let children: SandboxInfo[] = [];
    let carriedProcesses = false;
    const mainText = async (id: string, code: string) =>
      (await engine.runCode(id, { code, timeoutMs: 60_000 })).results.find((r) => r.isMainResult)?.text;

    before(async () => {
      engine = await harness.open();
      await engine.ensureTemplate({ id: harness.template });
      await engine.create({ id: parent, templateId: harness.template });
      // A 50 MB object in the interpreter, a file, and a running background process.
      const setup = await engine.runCode(parent, {
        code: "big = bytearray(50 * 1024 * 1024)\nbig[-1] = 7\nimport random\ntag = 'from-parent'",
        timeoutMs: 60_000,
      });
      assert.equal(setup.exitCode, 0, JSON.stringify(setup.error));
      await engine.files.write(parent, '/workspace/parent.txt', Buffer.from('written before the fork'));
      await engine.startProcess(parent, { command: 'exec sleep 3600', timeoutMs: 0 });
      const outcome = await engine.fork(parent, { count: 4 });
      children = outcome.children;
      carriedProcesses = outcome.carried.processes;
      assert.equal(outcome.carried.filesystem, true);
      assert.equal(outcome.carried.interpreter, true);
      assert.deepEqual(outcome.carried.interpreterSkipped, []);
      // Every process the children lack is named in the report.
      const leftOut = outcome.carried.processesNotCarried.map((p) => p.command);
      if (carriedProcesses) assert.deepEqual(leftOut, []);
      else
        assert.ok(
          leftOut.some((command) => /sleep 3600/.test(command)),
          `not carried: ${leftOut.join(', ')}`,
        );
    });
    after(() => harness.dispose());

    test('each child reports its lineage and a fresh identity', () => {
      assert.equal(children.length, 4);
      assert.equal(new Set(children.map((c) => c.id)).size, 4);
      for (const c of children) {
        assert.equal(c.parentId, parent);
        assert.equal(c.generation, 1);
        assert.equal(c.state, 'running');
      }
    });

    test('every child sees the file, the interpreter state, and (where carried) the process', async () => {
      for (const c of children) {
        assert.equal((await engine.files.read(c.id, '/workspace/parent.txt')).toString(), 'written before the fork');
        assert.equal(await mainText(c.id, '(len(big), big[-1], tag)'), "(52428800, 7, 'from-parent')");
        assert.equal((await sh(engine, c.id, 'hostname')).out.trim(), c.id);
        const sleeping = (await sh(engine, c.id, 'pgrep -c -x sleep || true')).out.trim();
        assert.equal(sleeping, carriedProcesses ? '1' : '0');
      }
    });

    test('children diverge independently', async () => {
      const [a, b] = children as [SandboxInfo, SandboxInfo];
      await engine.files.write(a.id, '/workspace/only-a.txt', Buffer.from('a'));
      await expectCode(engine.files.read(b.id, '/workspace/only-a.txt'), 'not_found');
      await expectCode(engine.files.read(parent, '/workspace/only-a.txt'), 'not_found');
      await engine.runCode(a.id, { code: "tag = 'changed-in-a'", timeoutMs: 10_000 });
      assert.equal(await mainText(b.id, 'tag'), "'from-parent'");
      const seenFromB = (await sh(engine, b.id, 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "')).out;
      assert.doesNotMatch(seenFromB, /changed-in-a/);
    });

    test('sibling random streams differ', async () => {
      const draws = await Promise.all(children.map((c) => mainText(c.id, 'random.random()')));
      assert.equal(new Set(draws).size, children.length, `draws: ${draws.join(', ')}`);
    });

    test('terminating the parent leaves the children working, and a fork of a fork works', async () => {
      await engine.terminate(parent);
      for (const c of children) assert.equal((await sh(engine, c.id, 'echo alive')).out, 'alive\n');
      const [first] = children as [SandboxInfo];
      const grand = await engine.fork(first.id, { count: 1 });
      const [g] = grand.children as [SandboxInfo];
      assert.equal(g.generation, 2);
      assert.equal(g.parentId, first.id);
      assert.equal((await engine.files.read(g.id, '/workspace/parent.txt')).toString(), 'written before the fork');
      // The grandchild starts from the child's state at its fork, not the original parent's.
      assert.equal(await mainText(g.id, 'tag'), "'changed-in-a'");
    });

    test('bad fork requests fail cleanly', async () => {
      const [first, second] = children as [SandboxInfo, SandboxInfo];
      const before = engine.list().length;
      await expectCode(engine.fork('no-such-sandbox', { count: 1 }), 'not_found');
      await expectCode(engine.fork(first.id, { count: 0 }), 'invalid_request');
      await expectCode(engine.fork(first.id, { count: 2, ids: ['fresh-child-ok', second.id] }), 'conflict');
      // The failed fork made nothing: no half-made child is left behind.
      assert.equal(engine.list().length, before);
      assert.equal(engine.get('fresh-child-ok'), undefined);
    });
  });
}
