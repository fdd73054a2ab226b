/**
 * The host multiplexer against the real guest agent, without a VM: `mitos-guest --serve-fd 3`
 * serves the mux over an inherited socketpair, and the shared AgentClient talks to it through
 * the per-VM proxy, exactly as it does to a VM. (Commands run on the host here, as the test
 * user, inside a throwaway directory.)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { skipUnlessAvailable } from '@mitos/testkit';
import { AgentClient } from '../../agent/client.js';
import { startExec } from '../../agent/exec.js';
import { MuxSession } from '../../agent/mux.js';
import { defaultGuestPath } from './paths.js';
import { ChannelProxy } from './proxy.js';

const guest = defaultGuestPath();

const skip = skipUnlessAvailable(
  'microvm',
  existsSync(guest) ? undefined : `${guest} is not built (make -C packages/agent)`,
);

describe('microvm mux against mitos-guest --serve-fd', { skip }, () => {
  let dir: string;
  let child: ChildProcess;
  let session: MuxSession;
  let proxy: ChannelProxy;
  let client: AgentClient;

  before(async () => {
    dir = mkdtempSync('/tmp/mitos-test-');
    child = spawn(guest, ['--serve-fd', '3'], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
    session = new MuxSession();
    session.attach(child.stdio[3] as Duplex);
    assert.match(await session.waitHello(5_000), /^mitos-guest \d+/);
    proxy = await ChannelProxy.listen(join(dir, 'agent.sock'), session);
    client = new AgentClient(proxy.path, 'mux-test');
  });
  after(async () => {
    await proxy.close();
    session.close();
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('exec: output, exit code, env and cwd travel over a channel', async () => {
    const r = await client.exec({
      command: 'echo out; echo err >&2; pwd; echo $X; exit 3',
      cwd: dir,
      env: { X: 'y' },
      timeoutMs: 5_000,
    });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout.toString(), `out\n${dir}\ny\n`);
    assert.equal(r.stderr.toString(), 'err\n');
  });

  test('large output in both directions respects flow control', async () => {
    const big = await client.exec({ command: 'head -c 3000000 /dev/zero | tr "\\0" z', cwd: dir, timeoutMs: 20_000 });
    assert.equal(big.stdout.length, 3_000_000);
    const data = Buffer.alloc(2_500_000, 7);
    await client.writeFile(join(dir, 'f.bin'), data);
    assert.deepEqual(await client.readFile(join(dir, 'f.bin')), data);
  });

  test('many concurrent channels do not block each other', async () => {
    const slow = client.startExec({ command: 'cat >/dev/null; echo done', cwd: dir, timeoutMs: 20_000, stdin: true });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.exec({ command: `echo ${i}`, cwd: dir, timeoutMs: 5_000 })),
    );
    assert.deepEqual(
      results.map((r) => r.stdout.toString()),
      Array.from({ length: 20 }, (_, i) => `${i}\n`),
    );
    const h = await slow;
    // Far more than one window of stdin that the command reads slowly.
    h.write(Buffer.alloc(1_000_000, 1));
    h.closeStdin();
    assert.equal((await h.done).stdout.toString(), 'done\n');
  });

  test('an exec that does not ask for its pid gets no pid frame, a little output no ack; a done channel is aborted once', async () => {
    // Both directions of the port, parsed into mux frames (length, channel, kind, payload).
    const port = child.stdio[3] as Duplex;
    const fromGuest = frameTap();
    const toGuest = frameTap();
    const onData = (chunk: Buffer) => fromGuest.feed(chunk);
    port.on('data', onData);
    const write = port.write;
    port.write = ((chunk: Buffer, ...rest: unknown[]) => {
      toGuest.feed(chunk);
      return (write as (...a: unknown[]) => boolean).call(port, chunk, ...rest);
    }) as typeof port.write;
    try {
      const pidFrames = (frames: MuxFrame[]) =>
        frames.filter((f) => f.kind === 'D' && f.payload.length >= 5 && f.payload[4] === 'p'.charCodeAt(0)).length;
      // Channels straight on the session, as a container sandbox's AgentSession opens them.
      const direct = { sandboxId: 'mux-test', open: async () => session.open() };
      let mark = fromGuest.frames.length;
      const quiet = await (
        await startExec(direct, { command: 'echo hi; exit 4', cwd: dir, timeoutMs: 5_000, noPid: true })
      ).done;
      assert.equal(quiet.exitCode, 4);
      assert.equal(quiet.stdout.toString(), 'hi\n');
      assert.equal(pidFrames(fromGuest.frames.slice(mark)), 0);
      // A little output costs no ack: the guest keeps three quarters of its window regardless.
      assert.equal(toGuest.frames.filter((f) => f.kind === 'A').length, 0);
      const h = await startExec(direct, { command: 'true', cwd: dir, timeoutMs: 5_000, noPid: true });
      await assert.rejects(h.pid);
      assert.equal((await h.done).exitCode, 0);
      mark = fromGuest.frames.length;
      const loud = await startExec(direct, { command: 'true', cwd: dir, timeoutMs: 5_000 });
      assert.ok((await loud.pid) > 0);
      await loud.done;
      assert.equal(pidFrames(fromGuest.frames.slice(mark)), 1);
      // Every channel the guest answered is aborted by the host exactly once (not before its
      // exit frame: the abort is sent when the loop turn that delivered the exit is over).
      const opened = () => new Set(toGuest.frames.filter((f) => f.kind === 'O').map((f) => f.channel));
      const aborted = () => toGuest.frames.filter((f) => f.kind === 'X').map((f) => f.channel);
      const deadline = Date.now() + 10_000;
      while (aborted().length < opened().size && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.deepEqual([...aborted()].sort(), [...opened()].sort());
    } finally {
      port.off('data', onData);
      port.write = write;
    }
  });

  test('a fence holds traffic in both directions until the resume', async () => {
    const h = await client.startExec({
      command: 'while read l; do echo "got $l"; done',
      cwd: dir,
      timeoutMs: 20_000,
      stdin: true,
    });
    let seen = '';
    const out = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (seen.includes('got b')) {
          clearInterval(t);
          resolve();
        }
      }, 10);
    });
    void h.done.then((r) => (seen = r.stdout.toString()));
    await session.fence(5_000);
    h.write(Buffer.from('a\n'));
    const during = client.exec({ command: 'echo during', cwd: dir, timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 200));
    let finished = false;
    void during.then(() => (finished = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(finished, false, 'no operation completes while fenced');
    await session.resume({ mode: 'keep', hostname: '', token: '', seed: Buffer.alloc(0) }, 5_000);
    assert.equal((await during).stdout.toString(), 'during\n');
    h.write(Buffer.from('b\n'));
    h.closeStdin();
    const r = await h.done;
    seen = r.stdout.toString();
    await out;
    assert.equal(seen, 'got a\ngot b\n');
  });

  test('a reset drops the channels of the previous session', async () => {
    const h = await client.startExec({ command: 'sleep 30', cwd: dir, timeoutMs: 60_000 });
    const pid = await h.pid;
    // The stream fails during the resume: be listening before it does.
    const dropped = assert.rejects(h.done);
    await session.fence(5_000);
    await session.resume({ mode: 'reset', hostname: '', token: '', seed: Buffer.alloc(0) }, 5_000);
    await dropped;
    // Without detach-on-close, closing the channel killed the command's process group.
    await new Promise((r) => setTimeout(r, 200));
    assert.throws(() => process.kill(pid, 0));
    const r = await client.exec({ command: 'echo after', cwd: dir, timeoutMs: 5_000 });
    assert.equal(r.stdout.toString(), 'after\n');
  });
});

interface MuxFrame {
  channel: number;
  kind: string;
  payload: Buffer;
}

/** Mux frames out of a byte stream fed in arbitrary pieces. */
function frameTap(): { frames: MuxFrame[]; feed(chunk: Buffer): void } {
  const frames: MuxFrame[] = [];
  let rx = Buffer.alloc(0);
  return {
    frames,
    feed(chunk) {
      rx = Buffer.concat([rx, chunk]);
      while (rx.length >= 9 && rx.length >= 4 + rx.readUInt32LE(0)) {
        const total = rx.readUInt32LE(0);
        frames.push({
          channel: rx.readUInt32LE(4),
          kind: String.fromCharCode(rx[8] as number),
          payload: rx.subarray(9, 4 + total),
        });
        rx = rx.subarray(4 + total);
      }
    },
  };
}
