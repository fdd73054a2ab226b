import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SandboxLifecycleLock } from './lifecycle-lock.js';

/** A promise settled from outside, and whether its change began. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('changes of one sandbox run one after another; a failed one does not stop the next', async () => {
  const lock = new SandboxLifecycleLock();
  const order: string[] = [];
  const first = gate();
  const a = lock.run('s1', async () => {
    order.push('a begins');
    await first.opened;
    order.push('a ends');
    throw new Error('a failed');
  });
  const b = lock.run('s1', async () => {
    order.push('b runs');
    return 'b';
  });
  // Another sandbox does not wait for s1.
  assert.equal(await lock.run('s2', async () => 'other'), 'other');
  assert.deepEqual(order, ['a begins']);
  first.open();
  await assert.rejects(a, /a failed/);
  assert.equal(await b, 'b');
  assert.deepEqual(order, ['a begins', 'a ends', 'b runs']);
});
