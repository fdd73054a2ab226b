import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SandboxPool } from '../api/v1alpha1/index.js';
import { FakeKube } from '../testing/fake-kube.js';
import { Informer, matchesSelector } from './informer.js';
import { SANDBOX_POOLS } from './resources.js';

const pool = (name: string, labels?: Record<string, string>): SandboxPool => ({
  metadata: { name, namespace: 'ns', ...(labels && { labels }) },
  spec: { templateRef: { name: 't' }, replicas: 1 },
});

describe('informer', () => {
  it('delivers the initial list, then every change, and keeps its cache in step', async () => {
    const kube = new FakeKube();
    await kube.create(SANDBOX_POOLS, pool('a'));
    const informer = new Informer<SandboxPool>(kube, SANDBOX_POOLS);
    const seen: string[] = [];
    informer.onChange((event, obj) => seen.push(`${event}:${obj.metadata.name}`));
    const stop = new AbortController();
    await informer.start(stop.signal);
    assert.deepEqual(seen, ['add:a']);
    await new Promise((r) => setImmediate(r));
    await kube.create(SANDBOX_POOLS, pool('b'));
    await kube.patch(SANDBOX_POOLS, 'ns', 'a', { spec: { replicas: 2 } });
    await kube.delete(SANDBOX_POOLS, 'ns', 'b');
    assert.deepEqual(seen, ['add:a', 'add:b', 'update:a', 'delete:b']);
    assert.equal(informer.get('ns', 'a')?.spec.replicas, 2);
    assert.deepEqual(
      informer.list().map((p) => p.metadata.name),
      ['a'],
    );
    stop.abort();
  });

  it('filters by label selector', async () => {
    const kube = new FakeKube();
    await kube.create(SANDBOX_POOLS, pool('in', { role: 'node' }));
    await kube.create(SANDBOX_POOLS, pool('out'));
    const informer = new Informer<SandboxPool>(kube, SANDBOX_POOLS, { labelSelector: 'role=node' });
    const stop = new AbortController();
    await informer.start(stop.signal);
    assert.deepEqual(
      informer.list().map((p) => p.metadata.name),
      ['in'],
    );
    stop.abort();
  });

  it('matches equality selectors', () => {
    const obj = { metadata: { labels: { a: '1', b: '2' } } };
    for (const [selector, expected] of [
      ['a=1', true],
      ['a==1,b=2', true],
      ['a=2', false],
      ['a!=2', true],
      ['c', false],
      ['!c', true],
      ['a', true],
    ] as const) {
      assert.equal(matchesSelector(obj, selector), expected, selector);
    }
  });
});
