import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeKube } from '../testing/fake-kube.js';
import { LeaderElector } from './leader-election.js';

describe('leader election', () => {
  it('lets one replica lead; another takes over only after the lease expires on its own clock', async () => {
    const kube = new FakeKube();
    let now = 1_000_000;
    const make = (identity: string) =>
      new LeaderElector({
        client: kube,
        namespace: 'mitos-system',
        name: 'lead',
        identity,
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        now: () => now,
      });
    const a = make('a');
    const b = make('b');
    assert.equal(await a.tryAcquireOrRenew(), true);
    assert.equal(await b.tryAcquireOrRenew(), false);
    now += 10_000;
    assert.equal(await a.tryAcquireOrRenew(), true, 'renewal');
    now += 10_000;
    assert.equal(await b.tryAcquireOrRenew(), false, 'b saw a renewal 10 s ago');
    now += 16_000;
    assert.equal(await b.tryAcquireOrRenew(), true, 'a stopped renewing');
    assert.equal(await a.tryAcquireOrRenew(), false);
  });

  it('hands over at once on release', async () => {
    const kube = new FakeKube();
    const a = new LeaderElector({ client: kube, namespace: 'ns', name: 'lead', identity: 'a' });
    const b = new LeaderElector({ client: kube, namespace: 'ns', name: 'lead', identity: 'b' });
    assert.equal(await a.tryAcquireOrRenew(), true);
    await a.release();
    assert.equal(await b.tryAcquireOrRenew(), true);
  });
});
