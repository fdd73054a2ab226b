import assert from 'node:assert/strict';
import { test } from 'node:test';
import { processStartTicks } from '../host/proc.js';
import { openDatabase } from '../state/database.js';
import { StateStore } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import { KernelDemand, kernelLanguage, kernelWarming, prestartPooled } from './kernel-demand.js';
import { blankRow } from './rows.js';

const LIMITS = { memoryBytes: 256 * 1024 * 1024, cpus: 1, pids: 256 };

/** A demand over a clock the test moves. */
function demandOf(mode: 'auto' | 'always' | 'never', idleMs = 1000) {
  let now = 0;
  const turnedOn: string[] = [];
  const demand = new KernelDemand(
    mode,
    (t) => turnedOn.push(t),
    idleMs,
    () => now,
  );
  return { demand, turnedOn, advance: (ms: number) => (now += ms) };
}

test('auto: a template wants the kernels its sandboxes ran code in recently, and stops after a while', () => {
  const { demand, turnedOn, advance } = demandOf('auto');
  assert.deepEqual(demand.wanted('python'), []);
  demand.used('python', 'python');
  assert.deepEqual(demand.wanted('python'), ['python']);
  assert.deepEqual(turnedOn, ['python'], 'the first use turns the pool on');
  demand.used('python', 'python');
  assert.deepEqual(turnedOn, ['python'], 'a use while on does not turn it on again');
  advance(600);
  demand.used('python', 'javascript');
  assert.deepEqual(demand.wanted('python').sort(), ['javascript', 'python']);
  assert.deepEqual(turnedOn, ['python', 'python'], 'a new language turns it on for that language');
  assert.deepEqual(demand.wanted('node'), [], 'other templates are not affected');
  advance(600);
  assert.deepEqual(demand.wanted('python'), ['javascript'], 'python lapsed 1200 ms after its last use');
  advance(600);
  assert.deepEqual(demand.wanted('python'), []);
  demand.used('python', 'python');
  assert.deepEqual(turnedOn.length, 3, 'a use after the lapse turns it on again');
});

test('code-interpreter templates keep their python kernel; always and never force either way', () => {
  const auto = demandOf('auto');
  assert.deepEqual(auto.demand.wanted('code-interpreter'), ['python']);
  auto.advance(10_000);
  assert.deepEqual(auto.demand.wanted('code-interpreter'), ['python']);
  auto.demand.used('code-interpreter', 'python');
  assert.deepEqual(auto.turnedOn, [], 'already wanted: nothing to turn on');

  const always = demandOf('always');
  assert.deepEqual(always.demand.wanted('base'), ['python']);
  always.demand.used('node', 'javascript');
  assert.deepEqual(always.demand.wanted('node').sort(), ['javascript', 'python']);

  const never = demandOf('never');
  never.demand.used('python', 'python');
  assert.deepEqual(never.demand.wanted('python'), []);
  assert.deepEqual(never.demand.wanted('code-interpreter'), []);
  assert.deepEqual(never.turnedOn, []);
});

test('the option and the languages map onto kernels', () => {
  assert.equal(kernelWarming(undefined), 'auto');
  assert.equal(kernelWarming(true), 'always');
  assert.equal(kernelWarming(false), 'never');
  assert.equal(kernelWarming('never'), 'never');
  assert.equal(kernelLanguage(undefined), 'python');
  assert.equal(kernelLanguage('ts'), 'javascript');
  assert.equal(kernelLanguage('Python3'), 'python');
  assert.equal(kernelLanguage('cobol'), undefined);
});

test('kernels start in sandboxes already pooled, each out of the pool meanwhile; one claimed meanwhile is left alone', async () => {
  const store = new StateStore(openDatabase(':memory:'));
  const pooled = (id: string) => {
    const row = blankRow(id, 'python', LIMITS);
    assert.ok(store.reserveSandbox(row));
    store.markRunning(id, {
      initPid: process.pid,
      initStartTicks: processStartTicks(process.pid) as string,
      supervisorPid: null,
      forkTimeMs: 0,
    });
    store.setState(id, 'pooled');
  };
  pooled('pool-a');
  pooled('pool-b');
  pooled('pool-c');
  const started: string[] = [];
  const statesWhileStarting: string[] = [];
  const kernels = {
    isPrestarted: (id: string) => id === 'pool-c',
    prestart: async (id: string, language: string) => {
      statesWhileStarting.push(`${id}:${store.sandbox(id)?.state}`);
      started.push(`${id}:${language}`);
      // The pool's drain claims pool-b while pool-a's kernel starts.
      if (id === 'pool-a') assert.ok(store.unpool('pool-b'));
    },
  };
  await prestartPooled({ store, agents: { kernels } as unknown as SandboxAgents }, 'python', ['python']);
  assert.deepEqual(started, ['pool-a:python'], 'pool-b was claimed meanwhile, pool-c had its kernel');
  assert.deepEqual(statesWhileStarting, ['pool-a:creating']);
  assert.equal(store.sandbox('pool-a')?.state, 'pooled', 'back in the pool once its kernel runs');
  assert.equal(store.sandbox('pool-b')?.state, 'terminating', 'the claimed one stays claimed');
  assert.equal(store.pooledCount('python'), 2);
});
