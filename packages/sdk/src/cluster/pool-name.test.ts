import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPoolName } from './pool-name.js';

describe('defaultPoolName', () => {
  for (const [image, pool] of [
    ['python', 'mitos-default-python'],
    ['python:3.12-slim', 'mitos-default-python-3.12-slim'],
    ['Python', 'mitos-default-python'],
    ['python.', 'mitos-default-python'],
    ['ghcr.io/org/img:v1', 'mitos-default-ghcr.io-org-img-v1'],
    ['a b__c', 'mitos-default-a-b-c'],
    ['-.x.-', 'mitos-default-x'],
    [`${'x'.repeat(39)}--y`, `mitos-default-${'x'.repeat(39)}`],
  ] as const) {
    it(`${JSON.stringify(image)} -> ${pool}`, () => assert.equal(defaultPoolName(image), pool));
  }
});
