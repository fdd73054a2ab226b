/** Conformance: the stateful code interpreter (run_code). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '@mitos/engine';
import type { ConformanceHarness } from './helpers.js';

export function describeCodeConformance(driver: string, harness: ConformanceHarness): void {
  describe(`engine conformance: ${driver}: code interpreter`, { timeout: 600_000 }, () => {
    let engine: Engine;
    const id = `code-${process.pid}`;
    const run = (code: string, timeoutMs = 60_000, language = 'python') =>
      engine.runCode(id, { code, timeoutMs, language });
    before(async () => {
      engine = await harness.open();
      await engine.ensureTemplate({ id: harness.template });
      await engine.create({ id, templateId: harness.template });
    });
    after(() => harness.dispose());

    test('state persists across three calls and the last value is the main result', async () => {
      const a = await run('x = 40');
      assert.equal(a.exitCode, 0);
      assert.equal(a.results.length, 0);
      await run('def add(n):\n    return x + n');
      const c = await run('add(2)');
      assert.equal(c.exitCode, 0, JSON.stringify(c.error));
      const main = c.results.find((r) => r.isMainResult);
      assert.equal(main?.text, '42');
      assert.equal(main?.data['text/plain'], '42');
    });

    test('stdout and stderr stream while the cell runs', async () => {
      // The cell only ends after the test has seen its first chunk (see the exec test).
      const chunks: string[] = [];
      const r = await engine.runCode(id, {
        code: "import os, sys, time\nprint('a', flush=True)\nwhile not os.path.exists('/tmp/code-go'): time.sleep(0.05)\nprint('b')\nprint('err', file=sys.stderr)",
        timeoutMs: 30_000,
        onStdout: (chunk) => {
          chunks.push(chunk.toString());
          if (chunks.length === 1) void engine.files.write(id, '/tmp/code-go', Buffer.alloc(0));
        },
      });
      assert.equal(r.exitCode, 0, 'the first chunk never reached the caller while the cell ran');
      assert.equal(r.stdout.toString(), 'a\nb\n');
      assert.equal(r.stderr.toString(), 'err\n');
      assert.equal(chunks[0], 'a\n');
    });

    test('a matplotlib figure yields a PNG of the requested size', async () => {
      const r = await run(
        'import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(4, 3), dpi=50)\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()',
      );
      assert.equal(r.exitCode, 0, JSON.stringify(r.error));
      const png = r.results.find((x) => x.data['image/png']);
      assert.ok(png, 'a PNG result');
      const bytes = Buffer.from(png.data['image/png'] as string, 'base64');
      assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
      assert.equal(bytes.readUInt32BE(16), 200);
      assert.equal(bytes.readUInt32BE(20), 150);
    });

    test('a DataFrame yields an HTML table', async () => {
      const r = await run("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})");
      const main = r.results.find((x) => x.isMainResult);
      assert.match(main?.data['text/html'] ?? '', /<table/);
      assert.match(main?.text ?? '', /a\s+b/);
    });

    test('rich reprs: markdown, latex, json, svg', async () => {
      const r = await run(
        [
          'class Rich:',
          '    def _repr_markdown_(self): return "**bold**"',
          '    def _repr_latex_(self): return "$x^2$"',
          '    def _repr_json_(self): return {"k": 1}',
          '    def _repr_svg_(self): return "<svg></svg>"',
          'Rich()',
        ].join('\n'),
      );
      const d = r.results.find((x) => x.isMainResult)?.data ?? {};
      assert.equal(d['text/markdown'], '**bold**');
      assert.equal(d['text/latex'], '$x^2$');
      assert.equal(d['application/json'], '{"k": 1}');
      assert.equal(d['image/svg+xml'], '<svg></svg>');
    });

    test('an exception yields its name, value and traceback', async () => {
      const r = await run("def f():\n    raise ValueError('bad value')\nf()");
      assert.equal(r.exitCode, 1);
      assert.equal(r.error?.name, 'ValueError');
      assert.equal(r.error?.value, 'bad value');
      assert.ok(r.error?.traceback.some((l) => /in f/.test(l)));
    });

    test('a timeout interrupts the cell and the kernel keeps its variables', async () => {
      await run('kept = "still here"');
      const started = Date.now();
      const r = await run('while True:\n    pass', 2_000);
      const took = Date.now() - started;
      assert.equal(r.error?.name, 'TimeoutError');
      assert.ok(took < 6_000, `interrupt took ${took} ms`);
      const after = await run('kept');
      assert.equal(after.results.find((x) => x.isMainResult)?.text, "'still here'");
    });

    test('5 MB of printed output arrives intact', async () => {
      const r = await run("import sys\nsys.stdout.write('y' * 5_000_000)");
      assert.equal(r.stdout.length, 5_000_000);
      assert.ok(r.stdout.every((b) => b === 0x79));
    });

    test('output of child processes is captured', async () => {
      const r = await run("import os\nos.system('echo from-a-subprocess')");
      assert.match(r.stdout.toString(), /from-a-subprocess/);
    });

    test('a crashed kernel is reported and restarted on the next call', async () => {
      const r = await run('import os\nos._exit(3)');
      assert.equal(r.error?.name, 'KernelDied');
      const next = await run('1 + 1');
      assert.equal(next.results.find((x) => x.isMainResult)?.text, '2');
    });

    test('an unknown language is kernel_unavailable', async () => {
      await assert.rejects(run('1', 1000, 'cobol'), { code: 'kernel_unavailable' });
    });

    test('the JavaScript and TypeScript kernels keep state across calls', async () => {
      const nodeId = `code-js-${process.pid}`;
      await engine.ensureTemplate({ id: harness.nodeTemplate });
      await engine.create({ id: nodeId, templateId: harness.nodeTemplate });
      const js = (code: string, language = 'javascript') =>
        engine.runCode(nodeId, { code, timeoutMs: 30_000, language });
      const a = await js('let total = 1; function bump(n) { total += n; return total }');
      assert.equal(a.exitCode, 0, JSON.stringify(a.error));
      await js('bump(2)');
      const c = await js('console.log("now", total); total * 10');
      assert.equal(c.stdout.toString(), 'now 3\n');
      assert.equal(c.results.find((x) => x.isMainResult)?.text, '30');
      const ts = await js('const typed: number = total + 1; typed', 'typescript');
      assert.equal(ts.results.find((x) => x.isMainResult)?.text, '4');
      const err = await js('throw new TypeError("nope")');
      assert.equal(err.error?.name, 'TypeError');
      await engine.terminate(nodeId);
    });
  });
}
