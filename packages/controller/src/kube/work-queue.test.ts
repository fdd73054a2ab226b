import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue } from './work-queue.js';

describe('work queue', () => {
  it('deduplicates keys that are waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
  });

  it('never hands a key to two workers; a re-add while processing runs again after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    assert.equal(q.length, 0, 'held back while a worker has it');
    q.done(key!);
    assert.equal(q.length, 1);
    assert.equal(await q.get(), 'a');
  });

  it('wakes a waiting worker', async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add('x');
    assert.equal(await next, 'x');
  });

  it('backs off exponentially per key and forgets on success', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((n) => q.backoffFor(n)),
      [10, 20, 40, 80, 100, 100],
    );
  });

  it('adds after a delay, keeping the earliest time', async () => {
    // The queue's timers are unref'd so a controller never stays up for them alone; this test
    // holds the event loop open itself while it waits.
    const hold = setInterval(() => {}, 1_000);
    try {
      const q = new WorkQueue();
      q.addAfter('a', 2_000);
      q.addAfter('a', 5);
      const started = Date.now();
      assert.equal(await q.get(), 'a');
      assert.ok(Date.now() - started < 1_500);
    } finally {
      clearInterval(hold);
    }
  });

  it('releases waiters on shutdown', async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.shutDown();
    assert.equal(await next, undefined);
  });
});
