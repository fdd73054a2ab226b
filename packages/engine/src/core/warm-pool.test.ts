import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DENY_POSTURE } from '@mitos/protocol';
import { processStartTicks } from '../host/proc.js';
import { openDatabase } from '../state/database.js';
import { type SandboxRow, StateStore, type TemplateRow } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import type { SandboxDriver } from './driver.js';
import { blankRow } from './rows.js';
import { WarmPool } from './warm-pool.js';

const LIMITS = { memoryBytes: 256 * 1024 * 1024, cpus: 1, pids: 256 };

/** The pool over a real state store; launching and ending a sandbox only move its row. */
function poolOf(size: number, idleMs: number, warmUp?: (templateId: string) => Promise<void>, maxTemplates?: number) {
  const store = new StateStore(openDatabase(':memory:'));
  const ended: string[] = [];
  /** What the pool asked of the agents, in order: hand-overs and identities. */
  const calls: string[] = [];
  let open = true;
  const launches: number[] = [];
  /** Set to make the next identity call fail, as it does when the pooled agent was killed. */
  const faults = { identity: false };
  const host = {
    store,
    driver: { rename: async () => {}, admit: () => {} } as unknown as SandboxDriver,
    agents: {
      kernels: { handOut: () => () => {} },
      handOver: (from: string, to: string) => calls.push(`handOver ${from} ${to}`),
      client: (id: string) => ({
        setIdentity: async (host: string) => {
          if (faults.identity) throw new Error('the sandbox agent closed the connection early');
          calls.push(`identity ${id} ${host}`);
        },
      }),
    } as unknown as SandboxAgents,
    // Pooled rows are checked for a live init before a hand-out: this process stands in for it.
    launchReserved: async (row: SandboxRow) =>
      launches.push(performance.now()) &&
      store.markRunning(row.id, {
        initPid: process.pid,
        initStartTicks: processStartTicks(process.pid) as string,
        supervisorPid: null,
        forkTimeMs: 0,
      }),
    teardown: async (row: SandboxRow) => {
      ended.push(row.id);
      store.deleteSandbox(row.id);
    },
    isOpen: () => open,
    log: () => {},
    warmUp,
  };
  const pool = new WarmPool(host, size, idleMs, maxTemplates);
  const template = (id: string): TemplateRow => {
    const row: TemplateRow = {
      id,
      image: id,
      imageKey: id,
      ready: true,
      createdAt: new Date(),
      creationTimeMs: 0,
      network: DENY_POSTURE,
      limits: LIMITS,
    };
    store.upsertTemplate(row);
    return row;
  };
  const close = async () => {
    open = false;
    pool.stop();
    await pool.settle();
  };
  return { store, pool, ended, calls, launches, faults, template, close };
}

/** Polls `check` until it holds; fails after `ms` (generous: the machine may be loaded). */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('a template out of use loses its pool, and its next use fills it again', async () => {
  const { store, pool, ended, template, close } = poolOf(2, 300);
  try {
    const typo = template('pyhton');
    pool.refill(typo.id);
    await until(() => store.pooledCount('pyhton') === 2, 'the pool to fill');
    // Nobody uses it: the pool is ended and stays empty (no refill).
    await until(() => ended.length === 2 && store.pooledCount('pyhton') === 0, 'the idle pool to be ended');
    await pool.settle();
    assert.equal(store.pooledCount('pyhton'), 0);
    assert.deepEqual(
      store.sandboxes().filter((r) => r.templateId === 'pyhton'),
      [],
    );
    // A create of the template is a use: it finds the pool empty, and the pool refills.
    assert.equal(await pool.take(typo, 'mine', LIMITS), undefined);
    await until(() => store.pooledCount('pyhton') === 2, 'the pool to refill after a use');
  } finally {
    await close();
  }
});

test('no more templates keep a pool than the cap: a use of one more ends the least recently used pool', async () => {
  const { store, pool, template, close } = poolOf(1, 0, undefined, 2);
  try {
    const pooledTemplates = () =>
      new Set(
        store
          .sandboxes()
          .filter((r) => r.state === 'pooled')
          .map((r) => r.templateId),
      );
    for (const id of ['t1', 't2']) pool.refill(template(id).id);
    await until(() => pooledTemplates().size === 2, 'two pools to fill');
    // t1 used again, then a third template: t2 (least recently used) loses its pool, t1 keeps its.
    await pool.take(template('t1'), 'mine', LIMITS);
    pool.refill(template('t3').id);
    await until(() => store.pooledCount('t3') === 1 && store.pooledCount('t1') === 1, 't3 and t1 to be pooled');
    await pool.settle();
    assert.deepEqual([...pooledTemplates()].sort(), ['t1', 't3']);
    // Many templates at once: never more than two pools once the drains settle.
    for (let i = 0; i < 6; i++) pool.refill(template(`many${i}`).id);
    await until(() => store.pooledCount('many5') === 1 && store.pooledCount('many4') === 1, 'the last two to fill');
    await pool.settle();
    assert.deepEqual([...pooledTemplates()].sort(), ['many4', 'many5']);
  } finally {
    await close();
  }
});

test('a pooled sandbox a create claims is not ended with the pool', async () => {
  const { store, pool, template, close } = poolOf(1, 0);
  try {
    const python = template('python');
    pool.refill(python.id);
    await until(() => store.pooledCount('python') === 1, 'the pool to fill');
    const pooled = store.sandboxes().find((r) => r.state === 'pooled') as SandboxRow;
    const taken = await pool.take(python, 'mine', LIMITS);
    assert.equal(taken?.id, 'mine');
    // The drain's claim fails on a row a create took, and succeeds on a pooled one.
    assert.equal(store.unpool(pooled.id), false);
    assert.equal(store.unpool('mine'), false);
    assert.equal(store.sandbox('mine')?.state, 'creating');
    await until(() => store.pooledCount('python') === 1, 'the pool to refill');
    const next = store.sandboxes().find((r) => r.state === 'pooled') as SandboxRow;
    assert.equal(store.unpool(next.id), true);
    assert.equal(store.sandbox(next.id)?.state, 'terminating');
  } finally {
    await close();
  }
});

test("a handed-out sandbox keeps its pooled agent connection (handed over), then gets its user's identity", async () => {
  const { store, pool, calls, template, close } = poolOf(1, 0);
  try {
    const python = template('python');
    pool.refill(python.id);
    await until(() => store.pooledCount('python') === 1, 'the pool to fill');
    const pooled = store.sandboxes().find((r) => r.state === 'pooled') as SandboxRow;
    await pool.take(python, 'mine', LIMITS);
    assert.deepEqual(calls, [`handOver ${pooled.id} mine`, 'identity mine mine']);
  } finally {
    await close();
  }
});

test('a pooled sandbox that fails its hand-out is reaped and the create told to launch afresh', async () => {
  const { store, pool, ended, faults, template, close } = poolOf(1, 0);
  try {
    const python = template('python');
    pool.refill(python.id);
    await until(() => store.pooledCount('python') === 1, 'the pool to fill');
    faults.identity = true;
    assert.equal(await pool.take(python, 'mine', LIMITS), undefined);
    assert.deepEqual(ended, ['mine']);
    assert.equal(store.sandbox('mine'), undefined, 'the failed hand-out left a row behind');
    faults.identity = false;
    // The pool fills again for the next create.
    await until(() => store.pooledCount('python') === 1, 'the pool to refill');
  } finally {
    await close();
  }
});

test('a refill waits until no user call is in flight (bounded), so its launch does not land in one', async () => {
  const { store, pool, launches, template, close } = poolOf(1, 0);
  let release = () => {};
  const call = pool.duringCall(new Promise<void>((r) => (release = r)));
  try {
    const python = template('python');
    const asked = performance.now();
    pool.refill(python.id);
    // Past the refill's own pause, the call still in flight: then it ends.
    await sleep(300);
    const released = performance.now();
    release();
    await call;
    await until(() => store.pooledCount('python') === 1, 'the pool to fill');
    // Either the launch came after the call ended, or the machine was so slow that the refill's
    // bound on waiting (2 s) ran out first.
    const launched = launches[0] as number;
    assert.ok(launched >= released || launched - asked >= 2_000, `launched ${launched - asked} ms after the ask`);
  } finally {
    release();
    await close();
  }
});

test('pooled sandboxes left by a previous engine are ended once out of use', async () => {
  const { store, pool, ended, template, close } = poolOf(1, 200);
  try {
    template('node');
    store.reserveSandbox(blankRow('pool-left', 'node', LIMITS, 'pool.left'));
    store.setState('pool-left', 'pooled');
    pool.arm();
    await until(() => ended.includes('pool-left'), 'the leftover pooled sandbox to be ended');
    assert.equal(store.sandbox('pool-left'), undefined);
  } finally {
    await close();
  }
});

test('a refill asked for while one warms the pool looks again once done (what the pool wants changed)', async () => {
  const warmUps: string[] = [];
  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const { store, pool, template, close } = poolOf(1, 0, async (templateId) => {
    warmUps.push(templateId);
    if (warmUps.length === 1) await gate;
  });
  try {
    const python = template('python');
    pool.refill(python.id);
    await until(() => warmUps.length === 1, 'the first warm-up');
    pool.refill(python.id);
    release();
    await until(
      () => pool.status().templates.find((t) => t.template === 'python')?.refilling === false,
      'the refill to end',
    );
    assert.deepEqual(warmUps, ['python', 'python'], 'warmed up again for the refill asked for meanwhile');
    assert.equal(store.pooledCount('python'), 1);
  } finally {
    await close();
  }
});
