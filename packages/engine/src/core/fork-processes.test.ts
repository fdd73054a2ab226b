import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import type { ProcessInfo } from '../engine.js';
import { planForkProcesses } from './fork-processes.js';

const running: ProcessInfo[] = [
  { pid: 1, command: 'mitos-init', tracked: false },
  { pid: 2, command: 'mitos-init            ', tracked: false },
  { pid: 3, command: 'python3 -m http.server 8000', tracked: true },
  { pid: 9, command: 'sh -c while true; do date >> /tmp/loop; done', tracked: false },
];
const parent = { listProcesses: async () => running };
const idle = { listProcesses: async () => [running[0] as ProcessInfo] };
const fsOnly = { name: 'linux', forkCarriesProcesses: false };
const wholeMachine = { name: 'microvm', forkCarriesProcesses: true };
const onRequest = { name: 'linux', forkCarriesProcesses: false, carriesProcessesOnRequest: true };

async function refusal(p: Promise<unknown>): Promise<MitosError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof MitosError, String(err));
  return err;
}

describe('planForkProcesses', () => {
  test('an engine that cannot carry processes refuses "all" before anything is made', async () => {
    const err = await refusal(planForkProcesses(fsOnly, 'all', parent));
    assert.equal(err.code, 'not_implemented');
    assert.match(err.remediation, /"none"/);
  });

  test('"auto", "none" and omitted there name every process but pid 1, relays included, with the reason', async () => {
    for (const mode of ['auto', 'none', undefined] as const) {
      const plan = await planForkProcesses(fsOnly, mode, parent);
      assert.equal(plan.carry, false);
      assert.deepEqual(
        plan.notCarried.map((p) => p.pid),
        [2, 3, 9],
      );
      assert.equal(plan.notCarried[0]?.command, 'mitos-init');
      assert.match(plan.notCarried[1]?.reason ?? '', mode === 'none' ? /not asked for/ : /cannot carry/);
    }
  });

  test('an engine that copies the whole machine carries all, and refuses "none"', async () => {
    for (const mode of ['auto', 'all', undefined] as const) {
      assert.deepEqual(await planForkProcesses(wholeMachine, mode, parent), { carry: true, notCarried: [] });
    }
    assert.equal((await refusal(planForkProcesses(wholeMachine, 'none', parent))).code, 'not_implemented');
  });

  test('an engine that carries them on request: "all" carries without listing', async () => {
    let listed = false;
    const spy = {
      listProcesses: async () => {
        listed = true;
        return running;
      },
    };
    assert.deepEqual(await planForkProcesses(onRequest, 'all', spy), { carry: true, notCarried: [] });
    assert.equal(listed, false, 'a carried fork reports nothing left out, so it does not list');
  });

  test('there "auto" carries when processes run beyond the agent, and forks the files when none do', async () => {
    assert.deepEqual(await planForkProcesses(onRequest, 'auto', parent), { carry: true, notCarried: [] });
    assert.deepEqual(await planForkProcesses(onRequest, 'auto', idle), { carry: false, notCarried: [] });
  });

  test('there omitted keeps the files fork, and names each process with how to carry it', async () => {
    const omitted = await planForkProcesses(onRequest, undefined, parent);
    assert.equal(omitted.carry, false);
    assert.match(omitted.notCarried[1]?.reason ?? '', /default fork .* send processes "auto" or "all"/);
    const none = await planForkProcesses(onRequest, 'none', parent);
    assert.match(none.notCarried[1]?.reason ?? '', /not asked for/);
  });
});
