import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { median, p95, percentile, single, summarize } from './stats.js';

describe('stats', () => {
  test('median of odd and even counts, independent of input order', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
  });

  test('p95 is the nearest-rank sample', () => {
    const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(p95(oneToHundred), 95);
    const oneToTwenty = Array.from({ length: 20 }, (_, i) => 20 - i);
    assert.equal(p95(oneToTwenty), 19);
    assert.equal(p95([3, 1, 2]), 3);
    assert.equal(percentile([10, 20, 30, 40], 50), 20);
  });

  test('summarize reports count, median, p95 and range without reordering the input', () => {
    const input = [9, 2, 7, 4, 5];
    assert.deepEqual(summarize(input), { n: 5, median: 5, p95: 9, min: 2, max: 9 });
    assert.deepEqual(input, [9, 2, 7, 4, 5]);
    assert.deepEqual(single(1.5), { n: 1, median: 1.5, p95: 1.5, min: 1.5, max: 1.5 });
  });

  test('empty or non-finite samples are refused', () => {
    assert.throws(() => median([]), RangeError);
    assert.throws(() => summarize([1, Number.NaN]), RangeError);
    assert.throws(() => percentile([1], 0), RangeError);
  });
});
