import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox, SandboxServer, TimeoutTooLargeError } from '@mitos/sdk';
import { type LiveServer, liveServer } from './fixtures.js';

const until = async (check: () => Promise<boolean> | boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe('end to end: the runtime surface through the SDK', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let sb: Sandbox;
  before(async () => {
    live = await liveServer({ serverOptions: { maxExecTimeoutSeconds: 3600 } });
    sb = await create('python', { baseUrl: live.url });
  });
  after(async () => {
    await sb?.terminate().catch(() => {});
    await live.stop();
  });

  test('streamed output chunks arrive before the command ends', async () => {
    const stamps: number[] = [];
    const started = Date.now();
    const r = await sb.exec('echo one; sleep 0.6; echo two; echo err >&2', {
      onStdout: () => stamps.push(Date.now() - started),
    });
    assert.equal(r.stdout, 'one\ntwo\n');
    assert.equal(r.stderr, 'err\n');
    assert.ok((stamps[0] as number) < 450, `first chunk after ${stamps[0]} ms`);
    assert.ok((stamps.at(-1) as number) >= 550);
    const events: string[] = [];
    for await (const ev of sb.execStream('echo a; echo b >&2; exit 4')) {
      if ('exit' in ev) events.push(`exit ${ev.exit.exitCode}`);
      else events.push(`${ev.stream} ${Buffer.from(ev.data).toString().trim()}`);
    }
    assert.deepEqual(events.sort(), ['exit 4', 'stderr b', 'stdout a'].sort());
  });

  test('a background process survives the client going away and can be killed later', async () => {
    const bg = await sb.execBackground('echo ready; exec sleep 3600');
    const pid = bg.pid;
    bg.disconnect();
    // A different client, later, still finds and controls it.
    const again = await create('python', { baseUrl: live.url }).then(async (other) => {
      await other.terminate();
      return (await sb.processes.list()).find((p) => p.pid === pid);
    });
    assert.ok(again, 'the process is still listed after its client went away');
    let output = '';
    const attached = await sb.processes.connect(pid, { onStdout: (d) => (output += Buffer.from(d).toString()) });
    await until(() => output === 'ready\n', 5_000, 'replayed output');
    await sb.processes.signal(pid, 'TERM');
    const r = await attached.wait();
    assert.equal(r.exitCode, 143);
    assert.ok(!(await sb.processes.list()).some((p) => p.pid === pid));
  });

  test('the foreground timeout does not apply to background processes', async () => {
    const bg = await sb.execBackground('sleep 2; echo done');
    const r = await bg.wait();
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'done\n');
  });

  test('a terminal takes input, resizes and reports the exit code', async () => {
    let screen = '';
    const pty = await sb.createPty({ cols: 90, rows: 20, onData: (d) => (screen += Buffer.from(d).toString()) });
    await pty.sendInput('stty size\n');
    await until(() => /20 90/.test(screen), 5_000, 'stty size');
    await pty.resize(132, 43);
    await pty.sendInput('stty size; exit 5\n');
    assert.equal(await pty.wait(), 5);
    assert.match(screen, /43 132/);
  });

  test('a paused sandbox accrues no CPU time and resumes where it was', async () => {
    const server = new SandboxServer({ baseUrl: live.url });
    const cpu = async () => (await server.metering()).sandboxes.find((s) => s.sandbox === sb.id)?.cpuNs ?? -1;
    const spin = await sb.execBackground('while :; do :; done');
    await sb.files.write('/workspace/before-pause.txt', 'kept');
    await sb.pause();
    assert.equal((await sb.info()).state, 'paused');
    const a = await cpu();
    await new Promise((r) => setTimeout(r, 700));
    const b = await cpu();
    assert.ok(b - a < 20_000_000, `paused sandbox used ${(b - a) / 1e6} ms of CPU`);
    await assert.rejects(sb.exec('true'), { code: 'sandbox_not_running' });
    await sb.resume();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await cpu()) - b > 50_000_000, 'the spinning process runs again');
    assert.equal(await sb.files.read('/workspace/before-pause.txt'), 'kept');
    await spin.kill();
  });

  test('a deadline terminates the sandbox; set_timeout over the ceiling is rejected', async () => {
    const short = await create('python', { baseUrl: live.url });
    await assert.rejects(short.setTimeout(3601), { code: 'timeout_too_large' });
    await assert.rejects(short.setTimeout(86_401), TimeoutTooLargeError);
    const deadline = await short.setTimeout(1);
    assert.ok(Math.abs(deadline - (Date.now() / 1000 + 1)) < 3);
    const server = new SandboxServer({ baseUrl: live.url });
    await until(async () => !(await server.listSandboxes()).some((s) => s.id === short.id), 6_000, 'deadline');
  });

  test('a forwarded port and a preview URL reach a server inside the sandbox', async () => {
    await sb.files.write('/workspace/site/index.html', '<p>preview works</p>');
    await sb.execBackground('cd /workspace/site && exec python3 -m http.server 8080 --bind 127.0.0.1');
    const fwd = await sb.forward(8080);
    let body = '';
    await until(
      async () => {
        body = await fetch(`http://${fwd.host}/index.html`).then(
          (r) => r.text(),
          () => '',
        );
        return body.length > 0;
      },
      10_000,
      'forwarded port',
    );
    assert.equal(body, '<p>preview works</p>');
    const url = await sb.getHost(8080);
    const page = await fetch(new URL('index.html', url));
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<p>preview works</p>');
    // Tampering with the signature, or a token for another port, is refused.
    // The signature is the part after the last '.'; change its first character (the last one
    // of base64url may carry only padding bits, which a decoder ignores).
    const dot = url.lastIndexOf('.');
    const flipped = url[dot + 1] === 'A' ? 'Q' : 'A';
    const bad = `${url.slice(0, dot + 1)}${flipped}${url.slice(dot + 2)}`;
    assert.notEqual(bad, url);
    assert.equal((await fetch(bad)).status, 403);
  });
});
