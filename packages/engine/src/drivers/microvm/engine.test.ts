/**
 * The engine-agnostic conformance suite on the microvm driver (TCG on hosts without usable
 * KVM), plus what only a VM driver shows: a separate guest kernel, a confined QEMU, copy-on-write
 * memory shared by fork children, and a parent whose open streams survive its own fork.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  describeDriverConformance,
  microvmTestEnv,
  microvmUnavailable,
  shellOf,
  skipUnlessAvailable,
  withPythonSandboxes,
} from '@mitos/testkit';
import type { MicroVmEngine } from './engine.js';

// Throws (fails this file) when MITOS_REQUIRE names microvm and this host cannot run it.
const unavailable = skipUnlessAvailable('microvm', microvmUnavailable());

function smaps(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]) * 1024;
  }
  return out;
}

/** The pool's waiting VMs once it holds one (it refills in the background after each take). */
async function pooledPids(engine: MicroVmEngine): Promise<number[]> {
  const deadline = Date.now() + 300_000;
  while (engine.pooledVmPids().length === 0) {
    assert.ok(Date.now() < deadline, 'the warm pool did not refill within 300 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return engine.pooledVmPids();
}

if (unavailable) {
  describe('microvm driver', { skip: unavailable }, () => {});
} else {
  describeDriverConformance('microvm', microvmTestEnv);

  describe('microvm driver: what a VM adds', { timeout: 600_000 }, () => {
    const env = microvmTestEnv();
    let engine: MicroVmEngine;
    const a = `vm-a-${process.pid}`;
    const sh = shellOf(() => engine, 30_000);

    withPythonSandboxes(env, [{ id: a }], (e) => {
      engine = e;
    });

    test('the accelerator is reported with its reason', () => {
      assert.match(engine.accelerator.accel, /^(kvm|tcg)$/);
      assert.ok(engine.accelerator.reason.length > 10);
    });

    test('the sandbox runs its own kernel, sees no host file and has no network but loopback', async () => {
      const marker = join(env.stateDir, 'host-secret.txt');
      writeFileSync(marker, 'host secret');
      const r = await sh(a, `uname -r; ls /sys/class/net; cat ${marker} 2>&1 || true; id -u`);
      const [kernel, ...rest] = r.out.trim().split('\n');
      assert.notEqual(kernel, release());
      assert.match(kernel ?? '', /cloud-amd64$/);
      assert.equal(rest[0], 'lo');
      assert.doesNotMatch(r.out, /host secret/);
    });

    test('QEMU runs as an unprivileged uid, without capabilities, under seccomp, in a cgroup', () => {
      const pid = engine.vmPid(a) as number;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      assert.ok(uid >= 200_000, `QEMU uid ${uid}`);
      assert.match(status, /^CapEff:\s+0+$/m);
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      assert.match(status, /^Seccomp:\s+2$/m);
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      assert.match(cgroup, /memory:\/mitos-test-|0::\/mitos-test-/);
    });

    test('guest memory is the VM size: a larger allocation fails inside, the VM survives', async () => {
      const total = Number(/MemTotal:\s+(\d+)/.exec((await sh(a, 'cat /proc/meminfo')).out)?.[1]) * 1024;
      assert.ok(total < 1.1 * 1024 ** 3, `guest sees ${total} bytes`);
      const r = await sh(a, `python3 -c "x = bytearray(1536 * 1024 * 1024); print('allocated')"`);
      assert.notEqual(r.code, 0);
      assert.equal((await sh(a, 'echo alive')).out, 'alive\n');
    });

    test('the pids limit holds inside the guest, and the agent keeps serving', async () => {
      const b = `vm-b-${process.pid}`;
      await engine.create({ id: b, templateId: 'python', limits: { pids: 40 } });
      const r = await sh(
        b,
        'for i in $(seq 100); do sleep 5 & done 2>/dev/null; sleep 0.5; cat /sys/fs/cgroup/sandbox/pids.current',
      );
      assert.ok(Number(r.out.trim().split('\n').at(-1)) <= 40, r.out);
      assert.equal((await sh(b, 'echo still-serving')).out, 'still-serving\n');
      await engine.terminate(b);
    });

    test('a VM handed out from the warm pool is a new sandbox: its own name, entropy and clock, nothing of the warm-up', async () => {
      const ids = [`vm-pool-1-${process.pid}`, `vm-pool-2-${process.pid}`];
      const seen: string[][] = [];
      for (const id of ids) {
        const pooled = await pooledPids(engine);
        await engine.create({ id, templateId: 'python' });
        assert.ok(pooled.includes(engine.vmPid(id) as number), 'the sandbox is the VM that waited in the pool');
        const r = await sh(
          id,
          'hostname; head -c 16 /dev/urandom | od -An -tx1; date +%s; ps -eo comm= | grep -cx true || true',
        );
        seen.push([...r.out.trim().split('\n'), String(Date.now() / 1000)]);
      }
      for (const [i, [host, , date, warmUps, hostNow]] of seen.entries()) {
        assert.equal(host, ids[i]);
        assert.ok(Math.abs(Number(date) - Number(hostNow)) < 5, `guest clock ${date}, host ${hostNow}`);
        assert.equal(warmUps, '0', 'no process of the warm-up is left');
      }
      assert.notEqual(seen[0]?.[1], seen[1]?.[1], 'each draws its own random stream');
      await Promise.all(ids.map((id) => engine.terminate(id)));
    });

    test('fork: children share the parent memory copy-on-write and get fresh entropy and clocks', async () => {
      await engine.runCode(a, { code: 'blob = bytes(range(256)) * (40 * 4096)', timeoutMs: 60_000 });
      const { children } = await engine.fork(a, { count: 2 });
      const draws = await Promise.all(children.map((c) => sh(c.id, 'head -c 16 /dev/urandom | od -An -tx1; date +%s')));
      assert.notEqual(draws[0]?.out.split('\n')[0], draws[1]?.out.split('\n')[0]);
      for (const d of draws) assert.ok(Math.abs(Number(d.out.trim().split('\n').at(-1)) - Date.now() / 1000) < 5);
      const MiB = 1024 ** 2;
      const pids = children.map((c) => engine.vmPid(c.id) as number);
      const before = pids.map(smaps);
      // Each child reads every page of the parent's 40 MiB object: both map the same pages of
      // the snapshot file, and neither gets a copy.
      for (const c of children) await engine.runCode(c.id, { code: 'sum(blob[::4096])', timeoutMs: 60_000 });
      pids.forEach((pid, i) => {
        const after = smaps(pid);
        const was = before[i] as Record<string, number>;
        const grew = (keys: string[]) => keys.reduce((n, k) => n + (after[k] ?? 0) - (was[k] ?? 0), 0);
        const shared = grew(['Shared_Clean', 'Shared_Dirty']);
        const unique = grew(['Private_Clean', 'Private_Dirty']);
        assert.ok(shared > 35 * MiB, `child ${i}: shared grew by ${(shared / MiB).toFixed(1)} MiB`);
        assert.ok(unique < 15 * MiB, `child ${i}: unique grew by ${(unique / MiB).toFixed(1)} MiB`);
      });
      await Promise.all(children.map((c) => engine.terminate(c.id)));
    });

    test('the parent keeps its open streams and processes across its own fork', async () => {
      const cat = await engine.startProcess(a, { command: 'cat', stdin: true, timeoutMs: 0 });
      let seen = '';
      cat.subscribe({ onStdout: (d) => (seen += d.toString()) });
      cat.write(Buffer.from('before\n'));
      const { children } = await engine.fork(a, { count: 1 });
      cat.write(Buffer.from('after\n'));
      cat.closeStdin();
      const r = await cat.wait();
      assert.equal(r.exitCode, 0);
      assert.equal(seen, 'before\nafter\n');
      // The child has the cat process too (its memory), detached from any stream.
      assert.match((await sh((children[0] as { id: string }).id, 'pgrep -x cat || true')).out, /^\d+\n$/);
    });
  });
}
