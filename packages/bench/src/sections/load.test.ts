import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countPerWindow } from './load.js';

test('countPerWindow buckets completion times into whole windows and drops the partial tail', () => {
  assert.deepEqual(countPerWindow([0, 10, 999, 1000, 2500, 3100], 1000, 3), [3, 1, 1]);
  assert.deepEqual(countPerWindow([], 1000, 2), [0, 0]);
});
