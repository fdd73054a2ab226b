/** Conformance: processes, terminals, pause/resume, deadlines, ports, usage. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '@mitos/engine';
import { type ConformanceHarness, expectCode, sh, until } from './helpers.js';

export function describeRuntimeConformance(driver: string, harness: ConformanceHarness): void {
  describe(`engine conformance: ${driver}: runtime`, { timeout: 600_000 }, () => {
    let engine: Engine;
    const id = `rt-${process.pid}`;
    before(async () => {
      engine = await harness.open();
      await engine.ensureTemplate({ id: harness.template });
      await engine.create({ id, templateId: harness.template });
    });
    after(() => harness.dispose());

    test('exec streams output chunks before the command ends', async () => {
      // The command only ends after the test has seen its first chunk: if output were held
      // until the end, it would wait for its timeout instead.
      const seen: string[] = [];
      const r = await engine.exec(id, {
        command: 'echo first; while [ ! -e /tmp/stream-go ]; do sleep 0.05; done; echo second',
        timeoutMs: 30_000,
        onStdout: (chunk) => {
          seen.push(chunk.toString());
          if (seen.length === 1) void engine.files.write(id, '/tmp/stream-go', Buffer.alloc(0));
        },
      });
      assert.equal(r.exitCode, 0, 'the first chunk never reached the caller while the command ran');
      assert.equal(r.stdout.toString(), 'first\nsecond\n');
      assert.equal(seen[0], 'first\n');
    });

    test('a process started with & in an exec keeps running after the exec returns', async () => {
      await sh(engine, id, 'sleep 777 >/dev/null 2>&1 &');
      await sh(engine, id, 'nohup sleep 778 >/dev/null 2>&1 &');
      await new Promise((r) => setTimeout(r, 200));
      const ps = (await sh(engine, id, 'ps -eo args')).out;
      assert.match(ps, /sleep 777/);
      assert.match(ps, /sleep 778/);
    });

    test('a background process outlives its starter, replays output, and can be killed', async () => {
      const p = await engine.startProcess(id, { command: 'echo started; exec sleep 600', timeoutMs: 0 });
      assert.ok(p.pid > 1);
      let late = '';
      await until(
        () => {
          late = '';
          const off = p.subscribe({ onStdout: (d) => (late += d.toString()) });
          off();
          return late === 'started\n';
        },
        5_000,
        'replayed output',
      );
      const listed = await engine.listProcesses(id);
      assert.ok(listed.some((x) => x.pid === p.pid && x.tracked && /sleep 600/.test(x.command)));
      assert.equal(engine.getProcess(id, p.pid), p);
      await engine.signalProcess(id, p.pid, 15);
      const r = await p.wait();
      assert.equal(r.exitCode, 128 + 15);
      await expectCode(engine.signalProcess(id, 999_999, 9), 'not_found');
    });

    test('a pty process sees a terminal, takes input and resizes', async () => {
      const p = await engine.startProcess(id, {
        command: '/bin/sh',
        pty: { cols: 100, rows: 30 },
        stdin: true,
        timeoutMs: 0,
      });
      let screen = '';
      p.subscribe({ onStdout: (d) => (screen += d.toString()) });
      p.write(Buffer.from('tty; stty size\n'));
      await until(() => /\/dev\/pts\/\d+/.test(screen) && /30 100/.test(screen), 5_000, 'tty output');
      p.resize(120, 40);
      p.write(Buffer.from('stty size; exit 3\n'));
      const r = await p.wait();
      assert.match(screen, /40 120/);
      assert.equal(r.exitCode, 3);
    });

    test('a paused sandbox uses no CPU, refuses work, and resumes where it was', async () => {
      await engine.startProcess(id, { command: 'while :; do :; done', timeoutMs: 0 });
      await engine.files.write(id, '/workspace/paused.txt', Buffer.from('kept'));
      await engine.pause(id);
      assert.equal(engine.get(id)?.state, 'paused');
      const before = (await engine.usage(id)).cpuNs;
      await new Promise((r) => setTimeout(r, 600));
      const afterPause = (await engine.usage(id)).cpuNs;
      assert.ok(afterPause - before < 20_000_000, `paused sandbox used ${(afterPause - before) / 1e6} ms of CPU`);
      await expectCode(engine.exec(id, { command: 'true', timeoutMs: 1_000 }), 'sandbox_not_running');
      await engine.resume(id);
      await new Promise((r) => setTimeout(r, 300));
      const resumed = (await engine.usage(id)).cpuNs;
      assert.ok(resumed - afterPause > 50_000_000, 'the busy loop runs again after resume');
      assert.equal((await sh(engine, id, 'cat /workspace/paused.txt; pkill -f "while :"; true')).out, 'kept');
    });

    test('a deadline terminates the sandbox', async () => {
      const tmp = `rt-deadline-${process.pid}`;
      await engine.create({ id: tmp, templateId: harness.template });
      let gone = false;
      const off = engine.onSandboxGone((g) => {
        if (g === tmp) gone = true;
      });
      await engine.setDeadline(tmp, new Date(Date.now() + 700));
      assert.ok(engine.getDeadline(tmp));
      await until(() => gone && engine.get(tmp) === undefined, 5_000, 'deadline termination');
      off();
    });

    test('a port inside the sandbox is reachable through connectPort', async () => {
      await engine.files.write(id, '/workspace/www/index.html', Buffer.from('<h1>hello from the sandbox</h1>'));
      await engine.startProcess(id, {
        command: 'cd /workspace/www && exec python3 -m http.server 8123 --bind 127.0.0.1',
        timeoutMs: 0,
      });
      let body = '';
      await until(
        async () => {
          try {
            body = await httpGet(engine, id, 8123, '/index.html');
            return true;
          } catch {
            return false;
          }
        },
        10_000,
        'http server in the sandbox',
      );
      assert.equal(body, '<h1>hello from the sandbox</h1>');
      await expectCode(engine.connectPort(id, 8124), 'not_found');
    });

    test('usage reports memory, disk and CPU', async () => {
      const u = await engine.usage(id);
      assert.ok(u.memory.uniqueBytes > 0);
      assert.ok(u.memory.cgroupBytes > 0);
      assert.ok(u.cpuNs > 0);
    });
  });
}

/** One HTTP GET over a stream that engine.connectPort opened into the sandbox. */
async function httpGet(engine: Engine, id: string, port: number, path: string): Promise<string> {
  const sock = await engine.connectPort(id, port);
  return new Promise<string>((resolve, reject) => {
    const req = request({ path, createConnection: () => sock as never }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
    req.end();
  });
}
