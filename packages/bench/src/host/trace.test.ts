import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { restoreDevices, snapshotDevices } from './trace.js';

describe('host trace of a bench run', () => {
  const dir = mkdtempSync('/tmp/mitos-test-trace-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the host device nodes are recorded', () => {
    const devices = snapshotDevices();
    const nul = devices.find((d) => d.path === '/dev/null');
    assert.ok(nul);
    assert.equal(nul.uid, 0, 'this host\u2019s /dev/null is not root-owned: an earlier run changed the host');
  });

  test('a changed owner or mode is reported and put back', () => {
    // A stand-in file, never a real device node of the host.
    const path = `${dir}/null`;
    writeFileSync(path, '');
    const before = [{ path, uid: 0, gid: 0, mode: 0o666 }];
    chownSync(path, 100_000, 100_000);
    chmodSync(path, 0o600);
    const changed = restoreDevices(before);
    assert.equal(changed.length, 1);
    assert.match(changed[0] as string, /was 0:0 666, found 100000:100000 600/);
    const st = statSync(path);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o666]);
  });
});
