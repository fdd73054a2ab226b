import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DENY_POSTURE } from '@mitos/protocol';
import { openDatabase } from '../state/database.js';
import { StateStore, type TemplateRow } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import { type HostParts, launchReserved } from './create.js';
import type { SandboxDriver } from './driver.js';
import { blankRow } from './rows.js';

const LIMITS = { memoryBytes: 256 * 1024 * 1024, cpus: 1, pids: 256 };
const TEMPLATE: TemplateRow = {
  id: 'python',
  image: 'python',
  imageKey: 'python',
  ready: true,
  createdAt: new Date(),
  creationTimeMs: 0,
  network: DENY_POSTURE,
  limits: LIMITS,
};

/** Host parts over a real state store whose agents record what was asked of them, and in which state. */
function partsOf(execFails = false) {
  const store = new StateStore(openDatabase(':memory:'));
  const calls: string[] = [];
  const parts: HostParts = {
    store,
    driver: {
      launch: async () => ({ initPid: 1, initStartTicks: '1', supervisorPid: null }),
    } as unknown as SandboxDriver,
    agents: {
      kernels: { prestart: async (id: string, l: string) => calls.push(`kernel ${id} ${l}`) },
      exec: async (id: string, o: { command: string }) => {
        calls.push(`exec ${id} ${o.command} while ${store.sandbox(id)?.state}`);
        if (execFails) throw new Error('no shell');
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    } as unknown as SandboxAgents,
    templateConfig: () => undefined,
    teardown: async () => {},
    log: (level, msg) => calls.push(`${level} ${msg}`),
  };
  return { store, parts, calls };
}

test('a pooled launch connects to its agent and runs one command before the row is marked running', async () => {
  const { store, parts, calls } = partsOf();
  store.reserveSandbox(blankRow('pool-a', 'python', LIMITS, 'pool.a'));
  await launchReserved(parts, store.sandbox('pool-a')!, TEMPLATE, undefined, { kernels: ['python'] });
  assert.deepEqual(calls, ['kernel pool-a python', 'exec pool-a true while creating']);
  assert.equal(store.sandbox('pool-a')?.state, 'running');
});

test("a create's own launch runs nothing in the sandbox; a failed warm-up still pools, with a warning", async () => {
  const { store, parts, calls } = partsOf(true);
  store.reserveSandbox(blankRow('mine', 'python', LIMITS));
  await launchReserved(parts, store.sandbox('mine')!, TEMPLATE, performance.now());
  assert.deepEqual(calls, []);
  store.reserveSandbox(blankRow('pool-b', 'python', LIMITS, 'pool.b'));
  await launchReserved(parts, store.sandbox('pool-b')!, TEMPLATE, undefined, { kernels: [] });
  assert.deepEqual(calls, ['exec pool-b true while creating', 'warn pooled sandbox warm-up failed']);
  assert.equal(store.sandbox('pool-b')?.state, 'running');
});
