import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describeForkConformance, shellOf, testEngineEnv, until } from '@mitos/testkit';
import type { LinuxEngine } from './engine.js';
import { SLOT_PREFIX } from './fork-slots.js';

const SLOTS = 2;

// The fork part of the driver conformance suite with its fork(4) served by ready slots.
const slotted = testEngineEnv();
describeForkConformance('linux with 4 fork slots', {
  template: 'python',
  nodeTemplate: 'node',
  async open() {
    const engine = await slotted.open({ forkSlots: 4 });
    await until(() => engine.forkSlotsReady === 4, 60_000, 'the fork slots to fill');
    return engine;
  },
  dispose: () => slotted.cleanup(),
});

describe('linux driver: fork slots', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const sh = shellOf(() => engine, 20_000);
  const parent = `fs-parent-${process.pid}`;
  const cgroupKey = (id: string) =>
    (engine.db.prepare('SELECT cgroup_key AS key FROM sandboxes WHERE id = ?').get(id) as { key: string }).key;
  const slotCgroups = () => engine.cgroups.list().filter((k) => k.startsWith(SLOT_PREFIX));
  const uidBase = async (id: string) => {
    const r = await sh(id, 'cat /proc/self/uid_map');
    const m = /^\s+0\s+(\d+)\s+65536\n$/.exec(r.out);
    assert.ok(m, `unexpected id map in ${id}: ${r.out}`);
    return Number(m[1]);
  };
  const filled = () => until(() => engine.forkSlotsReady === SLOTS, 60_000, 'the fork slots to fill');

  before(async () => {
    engine = await env.open({ forkSlots: SLOTS });
    await engine.ensureTemplate({ id: 'python' });
    await engine.create({ id: parent, templateId: 'python' });
    assert.equal((await sh(parent, 'echo from-parent > /workspace/mark')).code, 0);
    await filled();
  });
  after(() => env.cleanup());

  test('a fork child takes a ready slot, is its own sandbox, and the slot is refilled with a new one', async () => {
    const before = new Set(slotCgroups());
    assert.equal(before.size, SLOTS);
    // The slots wait for their owner only: no socket file is left for anyone else to connect to.
    assert.deepEqual(
      readdirSync(join(env.stateDir, 'run')).filter((f) => f.endsWith('.ctl')),
      [],
    );
    const child = `fs-child-${process.pid}`;
    await engine.fork(parent, { count: 1, ids: [child] });
    const key = cgroupKey(child);
    assert.ok(before.has(key), `the child's cgroup ${key} is not one of the ready slots`);
    const r = await sh(child, 'cat /workspace/mark; hostname; id -u; cat /proc/1/cmdline | tr "\\0" " "');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^from-parent\n/);
    assert.ok(r.out.includes(`\n${engine.get(child)?.hostname ?? child}\n`), r.out);
    assert.notEqual(await uidBase(child), await uidBase(parent));
    // The parent's limits, applied at the fork (the slot waited with small ones).
    const limits = engine.get(child)?.limits;
    assert.deepEqual(limits, engine.get(parent)?.limits);
    await filled();
    const now = new Set(slotCgroups());
    assert.ok(now.has(key), 'the used slot is the child now');
    const ready = [...now].filter((k) => k !== key && !before.has(k));
    assert.equal(ready.length, 1, `one new slot, not the used one again: ${[...now].join(' ')}`);
    await engine.terminate(child);
    assert.ok(!slotCgroups().includes(key), 'the child took its cgroup along');
  });

  test('a fan-out wider than the ready slots launches the rest afresh', async () => {
    await filled();
    const ids = [0, 1, 2, 3].map((i) => `fs-fan-${i}-${process.pid}`);
    await engine.fork(parent, { count: ids.length, ids });
    const keys = ids.map(cgroupKey);
    assert.equal(keys.filter((k) => k.startsWith(SLOT_PREFIX)).length, SLOTS, keys.join(' '));
    assert.equal(new Set(keys).size, ids.length);
    const bases = new Set<number>();
    for (const id of ids) {
      const r = await sh(id, 'cat /workspace/mark');
      assert.equal(r.out, 'from-parent\n', `${id}: ${r.err}`);
      bases.add(await uidBase(id));
    }
    assert.equal(bases.size, ids.length, 'every child has its own uid range');
    for (const id of ids) await engine.terminate(id);
  });

  test('closing the engine ends its unused slots; the next one keeps slot-made children and fills anew', async () => {
    await filled();
    const child = `fs-kept-${process.pid}`;
    await engine.fork(parent, { count: 1, ids: [child] });
    const kept = cgroupKey(child);
    await filled();
    const unused = slotCgroups().filter((k) => k !== kept);
    assert.equal(unused.length, SLOTS);
    await engine.close();
    for (const key of unused) assert.ok(!engine.cgroups.list().includes(key), `slot ${key} outlived its engine`);
    engine = await env.open({ forkSlots: SLOTS });
    assert.equal((await sh(child, 'cat /workspace/mark')).out, 'from-parent\n');
    await filled();
    const fresh = slotCgroups().filter((k) => k !== kept);
    assert.equal(fresh.length, SLOTS);
    for (const key of fresh) assert.ok(!unused.includes(key));
    await engine.terminate(child);
    assert.ok(!existsSync(join(env.stateDir, 'run', `${child}.sock`)));
  });
});
