import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { linuxHostChecks } from '../drivers/linux/doctor.js';
import { microvmHostChecks } from '../drivers/microvm/doctor.js';
import { findUidRangeConflicts, runHostChecks as runChecks } from './doctor.js';

const runHostChecks = (options: { stateDir: string }) => runChecks(options, [linuxHostChecks, microvmHostChecks]);

describe('host doctor', () => {
  test('reports every check with a detail, and a fix for each failure', async () => {
    const report = await runHostChecks({ stateDir: '/tmp/mitos-test-doctor-state' });
    const names = report.checks.map((c) => c.name);
    for (const expected of [
      'root',
      'user namespaces',
      'cgroups',
      'storage',
      'debootstrap',
      'agent compiler',
      'criu',
      'sandbox uid range',
      'state directory free space',
    ]) {
      assert.ok(names.includes(expected), `check ${expected}`);
    }
    for (const c of report.checks) {
      assert.ok(c.detail.length > 0, c.name);
      if (!c.ok) assert.ok(c.fix, `failing check ${c.name} has a fix`);
    }
    assert.equal(
      report.ok,
      report.checks.every((c) => c.ok),
    );
  });

  test('this host (root, v1 cgroups, btrfs-progs, debootstrap, cc) passes', {
    skip: process.getuid?.() !== 0 && 'needs root',
  }, async () => {
    const report = await runHostChecks({ stateDir: '/tmp' });
    const failing = report.checks.filter((c) => !c.ok);
    assert.deepEqual(failing, []);
  });

  test('uid range conflicts: users, groups and subordinate ranges inside base..base+65535', () => {
    const files = {
      passwd:
        'root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nsvc:x:100500:100500::/:/bin/false\n',
      group: 'root:x:0:\nedge:x:165535:\nabove:x:165536:\n',
      subuid: 'alice:165536:65536\nbob:100000:65536\n',
      subgid: 'carol:99999:2\n',
    };
    assert.deepEqual(findUidRangeConflicts(100_000, files), [
      'user svc has id 100500',
      'group edge has id 165535',
      '/etc/subuid gives bob 100000-165535',
      '/etc/subgid gives carol 99999-100000',
    ]);
    assert.deepEqual(findUidRangeConflicts(300_000, files), []);
  });
});
