import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canFork, canRunCode, expectCellText, forkChildren } from './capabilities.js';

const child = (id: string) => ({
  id,
  exec: async () => ({ exitCode: 0, stdout: '', stderr: '', execTimeMs: 0 }),
  terminate: async () => {},
});

test('optional SDK methods are detected by shape', () => {
  assert.equal(canRunCode({}), false);
  assert.equal(canRunCode({ runCode: async () => ({}) }), true);
  assert.equal(canFork({ fork: 'no' }), false);
  assert.equal(canFork({ fork: async () => [] }), true);
});

test('forkChildren accepts a list or { children } and refuses anything else', async () => {
  assert.deepEqual(
    (await forkChildren({ fork: async () => [child('a')] }, 1)).map((c) => c.id),
    ['a'],
  );
  const wrapped = await forkChildren({ fork: async (n) => ({ children: [child('a'), child('b')].slice(0, n) }) }, 2);
  assert.deepEqual(
    wrapped.map((c) => c.id),
    ['a', 'b'],
  );
  await assert.rejects(forkChildren({ fork: async () => [{ id: 'x' }] }, 1));
  await assert.rejects(forkChildren({ fork: async () => [child('a')] }, 2));
});

test('expectCellText checks the main text only when the result has one', () => {
  expectCellText({ text: '2' }, '2');
  expectCellText({ results: [] }, '2');
  assert.throws(() => expectCellText({ text: '3' }, '2'));
});
