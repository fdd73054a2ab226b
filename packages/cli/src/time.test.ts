import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, elapsed } from './time.js';

test('elapsed: a build time reads as minutes and seconds, never 213829.95587499999 ms', () => {
  assert.equal(elapsed(213_829.95587499999), '3m 33.8s');
  assert.equal(elapsed(4_210), '4.2s');
  assert.equal(elapsed(87.4), '87 ms');
});

test('ago: the largest whole unit', () => {
  const now = Date.UTC(2026, 0, 2);
  assert.equal(ago(new Date(now - 5_000), now), '5s');
  assert.equal(ago(new Date(now - 3 * 3600_000), now), '3h');
  assert.equal(ago(new Date(now + 1000), now), '0s');
});
