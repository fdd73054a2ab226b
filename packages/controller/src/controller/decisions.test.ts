import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredWarm } from './autoscale.js';
import { setCondition } from './conditions.js';
import { parseDuration } from './durations.js';
import { finishedTtlExpiry, lifetimeExpiry } from './lifetime.js';
import type { NodeView } from './nodes.js';
import { chooseClaimNode, eligibleNodes, spreadWarm, templateHolders, trimWarm } from './placement.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function node(name: string, extra: Partial<NodeView> = {}): NodeView {
  return {
    name,
    labels: {},
    sandboxEndpoint: `${name}:9091`,
    controlEndpoint: `${name}:9090`,
    capacity: { maxSandboxes: 10, activeSandboxes: 0, templates: {} },
    healthy: true,
    ...extra,
  };
}

describe('durations', () => {
  for (const [text, ms] of [
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['1.5s', 1_500],
    ['250ms', 250],
    ['0', 0],
  ] as const) {
    it(`parses ${text}`, () => assert.equal(parseDuration(text), ms));
  }
  for (const bad of ['', '30', 'm', '1x', '1h 2m', '-1s'])
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseDuration(bad), undefined));
});

describe('conditions', () => {
  it('keeps lastTransitionTime while the status holds, moves it when the status flips', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'x' }, new Date(T0));
    const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'B', message: 'y' }, new Date(T0 + 1000));
    assert.equal(b[0]?.lastTransitionTime, a[0]?.lastTransitionTime);
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'C', message: 'z' }, new Date(T0 + 2000));
    assert.equal(c[0]?.lastTransitionTime, new Date(T0 + 2000).toISOString());
  });

  it('returns the same array when nothing changes, so callers can skip the write', () => {
    const a = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'A', message: 'x' }, new Date(T0));
    assert.equal(setCondition(a, { type: 'Ready', status: 'True', reason: 'A', message: 'x' }, new Date(T0 + 5)), a);
  });
});

describe('warm target', () => {
  const base = { replicas: 3, inUse: 0, currentWarm: 0, lastClaimAt: undefined, now: T0 };
  it('is replicas without autoscale', () => assert.equal(desiredWarm({ ...base, autoscale: undefined }).desired, 3));
  for (const [name, input, expected] of [
    ['in use plus spare', { inUse: 2, autoscale: { maxWarm: 10, targetSpare: 2 } }, 4],
    ['capped at maxWarm', { inUse: 9, autoscale: { maxWarm: 5, targetSpare: 2 } }, 5],
    ['at least minWarm', { inUse: 0, autoscale: { minWarm: 3, maxWarm: 5, targetSpare: 0 } }, 3],
    ['minWarm above maxWarm is clamped', { inUse: 0, autoscale: { minWarm: 9, maxWarm: 4, targetSpare: 0 } }, 4],
    ['spare defaults to 2', { inUse: 1, autoscale: { maxWarm: 10 } }, 3],
  ] as const) {
    it(name, () => assert.equal(desiredWarm({ ...base, ...input }).desired, expected));
  }
  it('holds a scale-down while a claim arrived within the cooldown', () => {
    const held = desiredWarm({
      ...base,
      currentWarm: 5,
      lastClaimAt: T0 - 10_000,
      autoscale: { maxWarm: 10, targetSpare: 1, scaleDownCooldownSeconds: 60 },
    });
    assert.deepEqual(held, { desired: 5, heldByCooldown: true });
    const free = desiredWarm({
      ...base,
      currentWarm: 5,
      lastClaimAt: T0 - 61_000,
      autoscale: { maxWarm: 10, targetSpare: 1, scaleDownCooldownSeconds: 60 },
    });
    assert.deepEqual(free, { desired: 1, heldByCooldown: false });
  });
});

describe('lifetimes', () => {
  it('expires a claim at startedAt + timeout', () => {
    const started = new Date(T0).toISOString();
    assert.deepEqual(lifetimeExpiry(started, '1m', T0 + 59_000), { expired: false, remainingMs: 1_000 });
    assert.deepEqual(lifetimeExpiry(started, '1m', T0 + 60_000), { expired: true, remainingMs: 0 });
    assert.deepEqual(lifetimeExpiry(started, undefined, T0 + 1e9), { expired: false, remainingMs: undefined });
    assert.deepEqual(lifetimeExpiry(undefined, '1m', T0), { expired: false, remainingMs: undefined });
  });
  it('keeps a finished claim for ttlSecondsAfterFinished, 600 s by default', () => {
    const finished = new Date(T0).toISOString();
    assert.equal(finishedTtlExpiry(finished, undefined, T0 + 599_000).expired, false);
    assert.equal(finishedTtlExpiry(finished, undefined, T0 + 600_000).expired, true);
    assert.equal(finishedTtlExpiry(finished, 0, T0).expired, true);
  });
});

describe('placement', () => {
  it('selects nodes by label and health only', () => {
    const nodes = [
      node('a', { labels: { tier: 'gold' } }),
      node('b'),
      node('c', { labels: { tier: 'gold' }, healthy: false }),
    ];
    assert.deepEqual(
      eligibleNodes(nodes, { tier: 'gold' }).map((n) => n.name),
      ['a'],
    );
    assert.deepEqual(
      eligibleNodes(nodes, undefined).map((n) => n.name),
      ['a', 'b'],
    );
  });
  it('prefers template holders, then the least loaded, and honours spec.nodeName', () => {
    const busy = node('a', { capacity: { maxSandboxes: 10, activeSandboxes: 5, templates: { python: 'ready' } } });
    const idle = node('b');
    assert.equal(chooseClaimNode({ eligible: [busy, idle], image: 'python', holders: ['a'] })?.name, 'a');
    assert.equal(chooseClaimNode({ eligible: [busy, idle], image: 'python' })?.name, 'a');
    assert.equal(chooseClaimNode({ eligible: [busy, idle], image: 'node' })?.name, 'b');
    assert.equal(chooseClaimNode({ eligible: [busy, idle], image: 'python', preferred: 'b' })?.name, 'b');
    const full = node('f', { capacity: { maxSandboxes: 1, activeSandboxes: 1, templates: {} } });
    assert.equal(chooseClaimNode({ eligible: [full], image: 'python' }), undefined);
  });
  it('picks template holders that already have it, and at least one', () => {
    const nodes = [
      node('a'),
      node('b', { capacity: { maxSandboxes: 10, activeSandboxes: 0, templates: { python: 'building' } } }),
    ];
    assert.deepEqual(
      templateHolders(nodes, 'python', 0).map((n) => n.name),
      ['b'],
    );
    assert.deepEqual(
      templateHolders(nodes, 'python', 5).map((n) => n.name),
      ['b', 'a'],
    );
  });
  it('spreads warm sandboxes to the emptiest nodes and trims the fullest', () => {
    const warm = new Map([
      ['a', 2],
      ['b', 0],
    ]);
    assert.deepEqual(
      [...spreadWarm(warm, ['a', 'b'], 3)],
      [
        ['b', 2],
        ['a', 1],
      ],
    );
    assert.deepEqual(
      [
        ...trimWarm(
          new Map([
            ['a', 3],
            ['b', 1],
          ]),
          2,
        ),
      ],
      [['a', 2]],
    );
  });
});
