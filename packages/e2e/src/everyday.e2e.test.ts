// A new user's first hour with the CLI, against a real server on the real engine: each test
// is one of the rough edges issue 19 lists, tried the way a person would (pipes, a terminal).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { testEngineEnv } from '@mitos/testkit';
import { CLI, freePort, type LiveServer, liveServer, runCli } from './fixtures.js';

/** A shell line with `mitos` on hand, as a person types it (pipes are real FIFOs). */
function sh(line: string, viaTerminal = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `mitos() { ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"; }; ${line}`;
  // `script` gives the command a real terminal (a pty) for what behaves differently on one.
  const argv = viaTerminal ? ['script', '-qec', `bash -c ${shellQuote(script)}`, '/dev/null'] : ['bash', '-c', script];
  return new Promise((resolve) => {
    const child = spawn(argv[0] ?? 'bash', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

describe('end to end: everyday use of the CLI', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let id: string;
  const mitos = (...args: string[]) => runCli(['--base-url', live.url, ...args]);

  before(async () => {
    live = await liveServer();
    const created = await mitos('sandbox', 'create', '--template', 'python', '--memory-mb', '384', '--lifetime', '900');
    assert.equal(created.code, 0, created.stderr);
    id = created.stdout.trim();
  });
  after(async () => {
    await mitos('sandbox', 'terminate', id);
    await live.stop();
  });

  test('stdin piped into sandbox exec reaches the command', async () => {
    const r = await sh(`echo 'print(7*6)' | mitos --base-url ${live.url} sandbox exec ${id} -- python3`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '42\n');
    const file = await sh(
      `printf 'a\\nb\\n' > /tmp/mitos-test-stdin-$$ && mitos --base-url ${live.url} sandbox exec ${id} -- wc -l < /tmp/mitos-test-stdin-$$; rm -f /tmp/mitos-test-stdin-$$`,
    );
    assert.equal(file.stdout.trim(), '2');
  });

  test('exec-bg then kill ends the whole process group and frees the port', async () => {
    const bg = await mitos('sandbox', 'exec-bg', id, '--', 'python3 -m http.server 8123 --bind 127.0.0.1');
    assert.equal(bg.code, 0, bg.stderr);
    const pid = bg.stdout.trim();
    assert.match(pid, /^\d+$/);
    const killed = await mitos('sandbox', 'kill', id, pid);
    assert.equal(killed.code, 0, killed.stderr);
    // The port is free again: nothing of the group survived the kill.
    const bind = `import socket,time
for i in range(50):
    try:
        s=socket.socket(); s.bind(('127.0.0.1',8123)); print('free'); break
    except OSError: time.sleep(0.1)`;
    const free = await mitos('sandbox', 'exec', id, '--', 'python3', '-c', bind);
    assert.equal(free.stdout.trim(), 'free', free.stderr);
    const ps = await mitos('--json', 'sandbox', 'ps', id);
    const list = JSON.parse(ps.stdout) as { command: string }[];
    assert.ok(!list.some((p) => p.command.includes('http.server')), ps.stdout);
    for (const p of list) assert.equal(p.command, p.command.trim(), 'ps --json pads a command');
  });

  test('a background process that dies at once is reported as exited, with its output', async () => {
    const r = await mitos('sandbox', 'exec-bg', id, '--', 'echo about to fail; exit 3');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'about to fail\n');
    assert.match(r.stderr, /exited at once with status 3/);
  });

  test('sandbox logs prints what a background process printed', async () => {
    const bg = await mitos('sandbox', 'exec-bg', id, '--', 'echo hello-log; echo to-stderr >&2; sleep 600');
    const pid = bg.stdout.trim();
    const one = await mitos('sandbox', 'logs', id, pid);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, 'hello-log\n');
    assert.equal(one.stderr, 'to-stderr\n');
    const all = await mitos('sandbox', 'logs', id);
    assert.match(all.stdout, new RegExp(`==> pid ${pid} \\(running\\) <==\\nhello-log`));
    await mitos('sandbox', 'kill', id, pid);
  });

  test('on timeout, what was printed is kept and the exit is 124; the default is in --help', async () => {
    const r = await mitos('sandbox', 'exec', id, '--timeout', '1', '--', 'echo start; sleep 100');
    assert.equal(r.code, 124);
    assert.equal(r.stdout, 'start\n');
    assert.match(r.stderr, /exec_timeout/);
    const cell = await mitos('sandbox', 'run-code', id, '--timeout', '1', 'import time; time.sleep(30)');
    assert.equal(cell.code, 124, cell.stderr);
    assert.match((await mitos('sandbox', 'exec', '--help')).stdout, /default 30/);
    assert.match((await mitos('sandbox', 'run-code', '--help')).stdout, /default 60/);
  });

  test('a template typo warns with a suggestion and still creates (the wire keeps create-on-unknown)', async () => {
    const r = await mitos('sandbox', 'create', '--template', 'pyhton');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: template "pyhton" did not exist.*did you mean "python"\?/);
    await mitos('sandbox', 'terminate', r.stdout.trim());
    // The typo's template is removed by name, and only it.
    const rm = await mitos('template', 'rm', 'pyhton');
    assert.equal(rm.code, 0, rm.stderr);
    const ids = (JSON.parse((await mitos('--json', 'template', 'ls')).stdout) as { id: string }[]).map((t) => t.id);
    assert.ok(!ids.includes('pyhton') && ids.includes('python'), `templates left: ${ids.join(', ')}`);
    const again = await mitos('sandbox', 'create', '--template', 'python');
    assert.doesNotMatch(again.stderr, /warning/);
    await mitos('sandbox', 'terminate', again.stdout.trim());
  });

  test('a base URL that is another web server is named as such (exit 5), never an HTML dump', async () => {
    const other: Server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body><h1>404</h1></body></html>');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      for (const args of [
        ['sandbox', 'ls'],
        ['auth', 'whoami'],
      ]) {
        const r = await runCli(['--base-url', url, ...args]);
        assert.equal(r.code, 5, r.stderr);
        assert.match(r.stderr, /not_mitos_server/);
        assert.match(r.stderr, /Welcome to nginx!/);
        assert.doesNotMatch(r.stderr, /<html|<body/);
      }
    } finally {
      other.close();
    }
    const blocked = await runCli(['--base-url', 'http://127.0.0.1:9', 'sandbox', 'ls']);
    assert.equal(blocked.code, 5);
    assert.match(blocked.stderr, /blocked port/);
    const who = await mitos('auth', 'whoami');
    assert.equal(who.code, 0, who.stderr);
  });

  test('a missing file points at the path, not at the sandbox id', async () => {
    const r = await mitos('files', 'read', id, '/workspace/no-such-file');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /remediation: check the path/);
    assert.doesNotMatch(r.stderr, /confirm the id/);
  });

  test('sandbox info, ls with age/template/parent, create limits and lifetime, metering', async () => {
    const info = await mitos('sandbox', 'info', id);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /template:\s+python/);
    assert.match(info.stdout, /limits:\s+memory 384 MiB/);
    // The lifetime given at create is 15 minutes: the deadline is 15 minutes after creation
    // (compared as instants, so a slow machine between create and info does not matter).
    const created = /created:\s+(\S+)/.exec(info.stdout)?.[1];
    const deadline = /deadline:\s+(\S+) \(in \d+m\)/.exec(info.stdout)?.[1];
    assert.ok(created && deadline, info.stdout);
    const lifetimeMin = (Date.parse(deadline) - Date.parse(created)) / 60_000;
    assert.ok(Math.abs(lifetimeMin - 15) < 1, `lifetime ${lifetimeMin} min in ${info.stdout}`);
    assert.match(info.stdout, /network:\s+egress deny/);
    const fork = await mitos('fork', id);
    const child = fork.stdout.trim();
    const ls = await mitos('sandbox', 'ls');
    assert.match(ls.stdout, /^ID\s+TEMPLATE\s+STATE\s+AGE\s+PARENT$/m);
    assert.match(ls.stdout, new RegExp(`^${child}\\s+python\\s+running\\s+\\d+s\\s+${id}$`, 'm'));
    const childInfo = await mitos('sandbox', 'info', child);
    assert.match(childInfo.stdout, new RegExp(`parent:\\s+${id} \\(generation 1\\)`));
    const meter = await mitos('metering');
    assert.equal(meter.code, 0, meter.stderr);
    assert.match(meter.stdout, new RegExp(`^${id}\\s+\\d+\\.\\d`, 'm'));
    await mitos('sandbox', 'terminate', child);
  });

  test('forwards are listed and closed', async () => {
    const opened = await mitos('sandbox', 'forward', id, '8000');
    assert.equal(opened.code, 0, opened.stderr);
    const host = opened.stdout.trim().split(' ')[0] ?? '';
    assert.match(host, /^127\.0\.0\.1:\d+$/);
    const listed = await mitos('sandbox', 'forwards', id);
    assert.match(listed.stdout, new RegExp(`^${host.replaceAll('.', '\\.')}\\s+8000$`, 'm'));
    assert.equal((await mitos('sandbox', 'unforward', id, host)).code, 0);
    assert.equal(JSON.parse((await mitos('--json', 'sandbox', 'forwards', id)).stdout).length, 0);
    assert.equal((await mitos('sandbox', 'unforward', id, host)).code, 3);
  });

  test('the small things: pause/resume and terminate twice, tracebacks, fork --help', async () => {
    const [p1, p2] = [await mitos('sandbox', 'pause', id), await mitos('sandbox', 'pause', id)];
    assert.deepEqual([p1.code, p2.code], [0, 0], p2.stderr);
    assert.match(p2.stdout, /already/);
    const [r1, r2] = [await mitos('sandbox', 'resume', id), await mitos('sandbox', 'resume', id)];
    assert.deepEqual([r1.code, r2.code], [0, 0]);
    const tmp = (await mitos('sandbox', 'create')).stdout.trim();
    const [t1, t2] = [await mitos('sandbox', 'terminate', tmp), await mitos('sandbox', 'terminate', tmp)];
    assert.deepEqual([t1.code, t2.code], [0, 0], t2.stderr);
    assert.match(t2.stderr, /terminated already, or never created/);
    const tb = await mitos('sandbox', 'run-code', id, 'def f():\n    raise ValueError("boom")\nf()');
    assert.equal(tb.code, 1);
    assert.match(tb.stderr, /ValueError: boom/);
    assert.doesNotMatch(tb.stderr, /\n\n/, 'traceback lines are double-spaced');
    assert.doesNotMatch((await mitos('fork', '--help')).stdout, /\(files, processes/);
  });

  test('mitos serve logs readable lines on a terminal and JSON lines into a pipe', async () => {
    const env = testEngineEnv();
    try {
      for (const terminal of [true, false]) {
        const port = await freePort();
        const serve = `${process.execPath} ${CLI} serve --port ${port} --state-dir ${env.stateDir}`;
        const argv = terminal ? ['script', '-qfec', serve, '/dev/null'] : ['bash', '-c', `exec ${serve}`];
        const child = spawn(argv[0] ?? 'bash', argv.slice(1), {
          env: { ...process.env, MITOS_CGROUP_PARENT: env.cgroupParent },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        let out = '';
        child.stdout?.on('data', (d) => (out += d));
        const exited = new Promise((r) => child.once('close', r));
        const deadline = Date.now() + 60_000;
        while (!/mitos server listening/.test(out) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
        await exited;
        // Colour is expected on a terminal; the words are what is checked.
        const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
        const line = plain.split(/\r?\n/).find((l) => l.includes('mitos server listening')) ?? '';
        if (terminal) {
          assert.match(line, /^\d\d:\d\d:\d\d INFO {2}mitos server listening {2}url=http/, out);
          assert.notEqual(plain, out, 'no colour on a terminal');
        } else assert.equal(JSON.parse(line).msg, 'mitos server listening');
      }
    } finally {
      await env.cleanup();
    }
  });
});
