/**
 * Fork slots (engine drivers/linux/fork-slots.ts): fork children launched ahead, each given its
 * root only when a fork takes it. A slot-made child must be what a freshly launched one is:
 * its host binds and device nodes locked by the kernel (its mount namespace is made later than
 * a fresh launch's, by a helper in its user namespace), and nothing of another tenant's
 * slot-made child reaching it (files in /dev/shm and /tmp, processes, hostname, abstract
 * sockets, uid range). A slot waits for its own engine only: no socket is left to connect to.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { until } from '@mitos/testkit';
import { Recorder } from './figures.js';
import { cgroupParentDirs, sandboxCgroupName } from './host.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';
import { ISOLATION_PROBE_IN_SANDBOX, installIsolationProbe, runProbe } from './probe.js';

const rec = new Recorder('fork-slots', 'Fork slots: children launched ahead', 9);
const SLOTS = 2;

describe('a fork child made from a slot is as fresh and as locked as a launched one', { timeout: 600_000 }, () => {
  let live: LiveServer;
  let a: Sandbox;
  let b: Sandbox;
  const readySlots = () => {
    const used = new Set(live.engine.list().map((s) => sandboxCgroupName(live.env.stateDir, s.id)));
    const dir = cgroupParentDirs(live.env.cgroupParent)[0] as string;
    return readdirSync(dir).filter((n) => n.startsWith('slot.') && !used.has(n)).length;
  };
  const slotChild = async (parent: Sandbox): Promise<Sandbox> => {
    await until(() => readySlots() === SLOTS, 60_000, 'the fork slots to fill');
    const [child] = await parent.fork(1);
    assert.ok(child);
    const name = sandboxCgroupName(live.env.stateDir, child.id);
    assert.match(name, /^slot\./, `${child.id} was not made from a slot`);
    return child;
  };
  const sh = async (sb: Sandbox, command: string) => {
    const r = await sb.exec(command, { timeoutSeconds: 30 });
    assert.equal(r.exitCode, 0, `${command}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    live = await liveServer({ engineOptions: { forkSlots: SLOTS } });
    a = await create('python', { baseUrl: live.url });
    b = await create('python', { baseUrl: live.url });
  });

  after(async () => {
    await stopAndCheck(live, rec);
  });

  test('no slot socket is left for anyone to connect to', async () => {
    await until(() => readySlots() === SLOTS, 60_000, 'the fork slots to fill');
    const ctl = readdirSync(join(live.env.stateDir, 'run')).filter((f) => f.endsWith('.ctl'));
    rec.check('a host process connects to a waiting slot', ctl.length === 0 ? 'no socket to connect to' : 'FOUND');
    assert.deepEqual(ctl, []);
    rec.count('attacks', 1);
  });

  test('host binds and device nodes in a slot-made child are read-only and locked', async () => {
    const child = await slotChild(a);
    await installIsolationProbe(child, live.env.stateDir);
    const lines = await runProbe(child, 'locked /opt/mitos/kernels', ISOLATION_PROBE_IN_SANDBOX);
    const names = ['remount-bind-rw', 'umount-bind', 'remount-dev-null-rw', 'umount-dev-null', 'chmod-dev-null'];
    for (const n of names) {
      const l = lines.get(n);
      assert.ok(l, `probe did not report ${n}`);
      assert.equal(l.allowed, false, `${n} was allowed in a slot-made child (${l.detail})`);
      rec.check(`slot-made child: ${n}`, `denied: errno ${l.errno}`);
    }
    rec.count('attacks', names.length);
    await child.terminate();
  });

  test('what tenant A plants in its slot-made child never reaches tenant B’s', async () => {
    const ca = await slotChild(a);
    await sh(
      ca,
      [
        'echo a-secret > /dev/shm/planted',
        'echo a-secret > /tmp/planted',
        'hostname planted-by-a',
        '(setsid sleep 1000 >/dev/null 2>&1 &)',
        `(setsid python3 -c "import socket,time; s=socket.socket(socket.AF_UNIX); s.bind('\\0planted-by-a'); s.listen(); time.sleep(1000)" >/dev/null 2>&1 &)`,
      ].join('; '),
    );
    const cb = await slotChild(b);
    assert.notEqual(sandboxCgroupName(live.env.stateDir, cb.id), sandboxCgroupName(live.env.stateDir, ca.id));
    const seen = await sh(cb, 'ls -A /dev/shm /tmp; hostname; ps -eo comm; grep planted /proc/net/unix || true');
    for (const leak of ['planted', 'a-secret', 'sleep']) assert.ok(!seen.includes(leak), `B saw ${leak}: ${seen}`);
    const map = (sb: Sandbox) => sh(sb, 'cat /proc/self/uid_map');
    assert.notEqual(await map(cb), await map(ca), 'A and B share a uid range');
    rec.check(
      'A plants /dev/shm, /tmp, hostname, a process and an abstract socket; B (the next slot) looks',
      'B sees none of it; own uid range',
    );
    rec.count('attacks', 5);
    await ca.terminate();
    await cb.terminate();
  });
});
