import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequiredCapabilityMissing, requiredCapabilities, skipUnlessAvailable } from './require.js';

test('a capability MITOS_REQUIRE lists fails when missing; one it does not list skips with the reason', () => {
  const ci = { MITOS_REQUIRE: 'btrfs,microvm,kube' };
  assert.throws(
    () => skipUnlessAvailable('microvm', 'the guest image is not built', ci),
    (err: unknown) =>
      err instanceof RequiredCapabilityMissing &&
      err.capability === 'microvm' &&
      /MITOS_REQUIRE includes microvm.*the guest image is not built/.test(err.message),
  );
  assert.equal(skipUnlessAvailable('microvm', undefined, ci), false, 'available: runs');
  assert.equal(
    skipUnlessAvailable('kube', 'no kube-apiserver build', { MITOS_REQUIRE: 'btrfs' }),
    'kube unavailable: no kube-apiserver build',
  );
  assert.equal(skipUnlessAvailable('btrfs', 'not root', {}), 'btrfs unavailable: not root');
});

test('MITOS_REQUIRE with an unknown name is refused, so a typo cannot turn a requirement off', () => {
  assert.throws(() => requiredCapabilities({ MITOS_REQUIRE: 'btrfs,kubes' }), /unknown capability "kubes"/);
  assert.deepEqual([...requiredCapabilities({ MITOS_REQUIRE: ' btrfs , kube ' })], ['btrfs', 'kube']);
});
