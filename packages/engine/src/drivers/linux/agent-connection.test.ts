/**
 * The engine's one persistent, multiplexed connection to each sandbox's agent: operations share
 * it, and when it dies (its process killed, the sandbox ended) calls in flight fail at once with
 * a clear code and the next call connects again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { shellOf, testEngineEnv, until, withPythonSandboxes } from '@mitos/testkit';
import type { LinuxEngine } from './engine.js';

/** A command's `sh` is started by the connection's mux process itself (no worker between). */
const MUX_PID = 'echo $PPID';

describe('linux driver: the agent connection', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const id = `conn-${process.pid}`;
  const sh = shellOf(() => engine, 30_000);
  const muxPid = async () => {
    const r = await sh(id, MUX_PID);
    assert.equal(r.code, 0, r.err);
    return Number(r.out.trim());
  };

  withPythonSandboxes(env, [{ id }], (e) => {
    engine = e;
  });

  test('operations share one connection: every exec is served under the same mux process', async () => {
    const first = await muxPid();
    assert.ok(first > 1, `mux pid ${first}`);
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) seen.add(await muxPid());
    await Promise.all(Array.from({ length: 8 }, async () => seen.add(await muxPid())));
    assert.deepEqual([...seen], [first]);
    // The agent's own processes are not listed as the sandbox's.
    const listed = await engine.listProcesses(id);
    assert.ok(!listed.some((p) => p.pid === first), `mux process listed: ${JSON.stringify(listed)}`);
  });

  test("a sandbox process cannot take the connection's descriptor (the mux process is not dumpable)", async () => {
    const mux = await muxPid();
    // pidfd_open + pidfd_getfd on every low fd of the mux process; ptrace rules must refuse each.
    const probe = [
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      `pfd = libc.syscall(434, ${mux}, 0)`,
      'got = []',
      'errs = set()',
      'for fd in range(0, 32):',
      '    r = libc.syscall(438, pfd, fd, 0) if pfd >= 0 else -1',
      '    (got.append(fd) if r >= 0 else errs.add(ctypes.get_errno()))',
      'print("got", got, "errs", sorted(errs), "fdlist", os.access("/proc/%d/fd" % ' + mux + ', os.R_OK))',
    ].join('\n');
    const r = await sh(id, `python3 -c '${probe}'`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^got \[\] errs \[(1|38)\] fdlist False$/m, r.out);
  });

  test('a lost connection fails the exec in flight with exec_failed and the next call reconnects', async () => {
    const before = await muxPid();
    const marker = `sleep 4${process.pid % 1000}7`;
    const running = async () => (await engine.listProcesses(id)).some((p) => p.command === marker);
    const inFlight = engine.exec(id, { command: marker, timeoutMs: 600_000 });
    inFlight.catch(() => {});
    await until(running, 30_000, 'the sleep');
    // From inside the sandbox: kill the connection's process (the command doing it goes too).
    await engine.exec(id, { command: `kill -9 ${before}`, timeoutMs: 30_000 }).catch(() => {});
    await assert.rejects(inFlight, (err: unknown) => {
      assert.ok(err instanceof MitosError, String(err));
      assert.equal(err.code, 'exec_failed');
      assert.match(err.detail ?? '', /connection to the sandbox agent was lost/);
      return true;
    });
    const after = await muxPid();
    assert.ok(after > 1 && after !== before, `reconnected under ${after} (was ${before})`);
    // The orphaned command was not detached: it ended with the mux that started it.
    await until(async () => !(await running()), 30_000, 'the sleep to end');
  });

  test('a relayed stream nobody listens on yet closes, without crashing the server, when the connection is lost', async () => {
    const port = 20_000 + (process.pid % 20_000);
    const holder = await engine.startProcess(id, {
      command: `python3 -c "import socket, time; s = socket.create_server(('127.0.0.1', ${port})); c, _ = s.accept(); time.sleep(600)"`,
      timeoutMs: 0,
    });
    const listening = async () =>
      (await sh(id, `grep -q ':${port.toString(16).toUpperCase()} 00000000:0000 0A' /proc/net/tcp`)).code === 0;
    await until(listening, 30_000, 'the listener');
    // No listener of ours on the stream: an 'error' nobody hears would end this process.
    const stream = await engine.connectPort(id, port);
    await engine.exec(id, { command: `kill -9 ${await muxPid()}`, timeoutMs: 30_000 }).catch(() => {});
    await until(async () => stream.destroyed, 30_000, 'the stream to close');
    holder.kill();
  });

  test('ending the sandbox fails its exec in flight instead of leaving it waiting', async () => {
    const other = `conn-end-${process.pid}`;
    await engine.create({ id: other, templateId: 'python' });
    const inFlight = engine.exec(other, { command: 'sleep 600', timeoutMs: 600_000 });
    inFlight.catch(() => {});
    await until(
      async () => (await engine.listProcesses(other)).some((p) => /sleep 600/.test(p.command)),
      30_000,
      'sleep',
    );
    await engine.terminate(other);
    await assert.rejects(inFlight, (err: unknown) => err instanceof MitosError);
  });
});
