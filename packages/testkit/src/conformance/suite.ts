/**
 * The engine-agnostic conformance suite: every driver must pass it. A driver's test file calls
 * `describeConformance(name, harness)`; the harness makes and tears down engines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CreateSandboxOptions, Engine } from '@mitos/engine';
import { describeCodeConformance } from './code.js';
import { describeForkConformance } from './fork.js';
import { type ConformanceHarness, expectCode } from './helpers.js';
import { describeRuntimeConformance } from './runtime.js';

export type { ConformanceHarness } from './helpers.js';

/** What both drivers' test environments offer (testEngineEnv, microvmTestEnv). */
export interface DriverTestEnv<E extends Engine> {
  open(): Promise<E>;
  cleanup(): Promise<void>;
}

/** The conformance suite on a driver with the python and node templates, a fresh env per part. */
export function describeDriverConformance<E extends Engine>(driver: string, makeEnv: () => DriverTestEnv<E>): void {
  describeConformance(driver, () => {
    const env = makeEnv();
    return { template: 'python', nodeTemplate: 'node', open: () => env.open(), dispose: () => env.cleanup() };
  });
}

/**
 * For a driver's own tests, inside a `describe`: before them, open `env` and create python
 * sandboxes (handing the engine to `onOpen` first); after them, clean everything up.
 */
export function withPythonSandboxes<E extends Engine>(
  env: DriverTestEnv<E>,
  sandboxes: Array<Omit<CreateSandboxOptions, 'templateId'>>,
  onOpen: (engine: E) => void,
): void {
  before(async () => {
    const engine = await env.open();
    onOpen(engine);
    await engine.ensureTemplate({ id: 'python' });
    for (const s of sandboxes) await engine.create({ ...s, templateId: 'python' });
  });
  after(() => env.cleanup());
}

/** Every conformance suite, each on its own engine. `makeHarness` is called once per suite. */
export function describeConformance(driver: string, makeHarness: () => ConformanceHarness): void {
  describeBasicConformance(driver, makeHarness());
  describeRuntimeConformance(driver, makeHarness());
  describeCodeConformance(driver, makeHarness());
  describeForkConformance(driver, makeHarness());
}

function describeBasicConformance(driver: string, harness: ConformanceHarness): void {
  describe(`engine conformance: ${driver}`, { timeout: 600_000 }, () => {
    let engine: Engine;
    let id: string;
    const text = (b: Buffer) => b.toString('utf8');

    before(async () => {
      engine = await harness.open();
      await engine.ensureTemplate({ id: harness.template });
      id = `conf-${process.pid}`;
      await engine.create({ id, templateId: harness.template });
    });
    after(async () => {
      await harness.dispose();
    });

    test('a created sandbox is listed and runs python', async () => {
      assert.ok(engine.list().some((s) => s.id === id));
      const info = engine.get(id);
      assert.equal(info?.state, 'running');
      assert.ok((info?.forkTimeMs ?? 0) > 0);
      const r = await engine.exec(id, { command: "python3 -c 'print(2+2)'", timeoutMs: 30_000 });
      assert.equal(r.exitCode, 0, text(r.stderr));
      assert.equal(text(r.stdout), '4\n');
    });

    test('exec keeps stdout and stderr apart and reports the exit code', async () => {
      const r = await engine.exec(id, { command: 'echo out; echo err >&2; exit 7', timeoutMs: 10_000 });
      assert.equal(r.exitCode, 7);
      assert.equal(text(r.stdout), 'out\n');
      assert.equal(text(r.stderr), 'err\n');
      assert.equal(r.timedOut, false);
    });

    test('exec runs in /workspace by default, honours cwd and env', async () => {
      const d = await engine.exec(id, { command: 'pwd', timeoutMs: 10_000 });
      assert.equal(text(d.stdout), '/workspace\n');
      const r = await engine.exec(id, {
        command: 'pwd; echo "$GREETING"',
        cwd: '/tmp',
        env: { GREETING: 'hello world' },
        timeoutMs: 10_000,
      });
      assert.equal(text(r.stdout), '/tmp\nhello world\n');
    });

    test('a missing working directory fails the exec with exec_failed', async () => {
      await expectCode(engine.exec(id, { command: 'true', cwd: '/does/not/exist', timeoutMs: 5_000 }), 'exec_failed');
    });

    test('a timeout reports exit 124 and kills the whole process group', async () => {
      const started = Date.now();
      const r = await engine.exec(id, {
        command: 'sleep 300 & echo $! > /tmp/bg.pid; sleep 300',
        timeoutMs: 500,
      });
      const took = Date.now() - started;
      assert.equal(r.exitCode, 124);
      assert.equal(r.timedOut, true);
      assert.ok(took >= 450 && took < 5_000, `timeout took ${took} ms`);
      const check = await engine.exec(id, {
        command: 'kill -0 "$(cat /tmp/bg.pid)" 2>/dev/null && echo alive || echo gone',
        timeoutMs: 5_000,
      });
      assert.equal(text(check.stdout), 'gone\n');
    });

    test('aborting an exec kills its process group', async () => {
      const ctl = new AbortController();
      const p = engine.exec(id, {
        command: 'echo $$ > /tmp/abort.pid; sleep 300',
        timeoutMs: 60_000,
        signal: ctl.signal,
      });
      await new Promise((r) => setTimeout(r, 300));
      ctl.abort();
      await expectCode(p, 'canceled');
      await new Promise((r) => setTimeout(r, 100));
      const check = await engine.exec(id, {
        command: 'kill -0 "$(cat /tmp/abort.pid)" 2>/dev/null && echo alive || echo gone',
        timeoutMs: 5_000,
      });
      assert.equal(text(check.stdout), 'gone\n');
    });

    test('large output arrives intact', async () => {
      const r = await engine.exec(id, { command: 'head -c 5000000 /dev/zero | tr "\\0" x', timeoutMs: 30_000 });
      assert.equal(r.stdout.length, 5_000_000);
      assert.ok(r.stdout.every((b) => b === 0x78));
    });

    test('files: write, read, bytes, list, stat, mkdir, remove', async () => {
      await engine.files.write(id, '/workspace/dir/a.txt', Buffer.from('hello'), 0o600);
      assert.equal(text(await engine.files.read(id, '/workspace/dir/a.txt')), 'hello');
      const bytes = Buffer.from([0, 255, 1, 128, 10, 13]);
      await engine.files.write(id, '/workspace/dir/b.bin', bytes);
      assert.deepEqual(await engine.files.read(id, '/workspace/dir/b.bin'), bytes);
      const entries = await engine.files.list(id, '/workspace/dir');
      const names = entries.map((e) => e.name).sort();
      assert.deepEqual(names, ['a.txt', 'b.bin']);
      const a = entries.find((e) => e.name === 'a.txt');
      assert.equal(a?.kind, 'file');
      assert.equal(a?.size, 5);
      assert.equal(a?.mode, 0o600);
      const st = await engine.files.stat(id, '/workspace/dir');
      assert.equal(st.kind, 'dir');
      await engine.files.mkdir(id, '/workspace/x/y/z');
      await engine.files.mkdir(id, '/workspace/x/y/z');
      assert.equal((await engine.files.stat(id, '/workspace/x/y/z')).kind, 'dir');
      await engine.files.remove(id, '/workspace/x');
      await engine.files.remove(id, '/workspace/x');
      await expectCode(engine.files.stat(id, '/workspace/x'), 'not_found');
      const seen = await engine.exec(id, { command: 'cat /workspace/dir/a.txt', timeoutMs: 5_000 });
      assert.equal(text(seen.stdout), 'hello');
    });

    test('files: a missing path is not_found, a directory read is file_failed', async () => {
      await expectCode(engine.files.read(id, '/nope/missing.txt'), 'not_found');
      await expectCode(engine.files.list(id, '/nope'), 'not_found');
      await expectCode(engine.files.read(id, '/workspace'), 'file_failed');
      await expectCode(engine.files.read(id, 'relative/path'), 'file_failed');
    });

    test('files: an empty directory lists as [] and a file lists as itself', async () => {
      await engine.files.mkdir(id, '/workspace/empty');
      assert.deepEqual(await engine.files.list(id, '/workspace/empty'), []);
      await engine.files.write(id, '/workspace/single.txt', Buffer.from('1'));
      const one = await engine.files.list(id, '/workspace/single.txt');
      assert.equal(one.length, 1);
      assert.equal(one[0]?.name, 'single.txt');
    });

    test('unknown sandboxes are not_found; terminate is idempotent', async () => {
      await expectCode(engine.exec('no-such-sandbox', { command: 'true', timeoutMs: 1_000 }), 'not_found');
      await expectCode(engine.files.read('no-such-sandbox', '/etc/hostname'), 'not_found');
      assert.equal(await engine.terminate('no-such-sandbox'), false);
      const tmp = `conf-term-${process.pid}`;
      await engine.create({ id: tmp, templateId: harness.template });
      assert.equal(await engine.terminate(tmp), true);
      assert.equal(await engine.terminate(tmp), false);
      assert.equal(engine.get(tmp), undefined);
      await expectCode(engine.exec(tmp, { command: 'true', timeoutMs: 1_000 }), 'not_found');
    });

    test('creating with a taken id is a conflict, an unknown template not_found, a bad id invalid', async () => {
      await expectCode(engine.create({ id, templateId: harness.template }), 'conflict');
      await expectCode(engine.create({ id: 'conf-x', templateId: 'no-such-template' }), 'not_found');
      await expectCode(engine.create({ id: '../evil', templateId: harness.template }), 'invalid_request');
      assert.equal(engine.get(id)?.state, 'running');
    });

    test('sandboxes are independent: writes in one are not seen in another', async () => {
      const other = `conf-other-${process.pid}`;
      await engine.create({ id: other, templateId: harness.template });
      try {
        await engine.files.write(id, '/workspace/mine.txt', Buffer.from('A'));
        await expectCode(engine.files.read(other, '/workspace/mine.txt'), 'not_found');
      } finally {
        await engine.terminate(other);
      }
    });
  });
}
