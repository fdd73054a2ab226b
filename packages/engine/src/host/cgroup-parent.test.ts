import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cgroupParentFor } from './cgroup-parent.js';

describe('cgroup parent per server', () => {
  test('derived from the state dir: one per dir, stable across restarts', () => {
    const a = cgroupParentFor('/var/lib/mitos', undefined);
    assert.match(a, /^mitos-[0-9a-f]{12}$/);
    assert.equal(cgroupParentFor('/var/lib/mitos/', undefined), a);
    assert.notEqual(cgroupParentFor('/tmp/other', undefined), a);
    assert.match(cgroupParentFor('/tmp/other', undefined, 'mitos-vm'), /^mitos-vm-[0-9a-f]{12}$/);
  });

  test('an explicit parent wins', () => {
    assert.equal(cgroupParentFor('/var/lib/mitos', 'custom'), 'custom');
  });
});
