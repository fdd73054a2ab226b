import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mountAt, mountsUnder, parseMountinfo, readMountinfo } from './mountinfo.js';

const SAMPLE = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '30 22 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory',
  '31 22 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '40 22 7:0 / /srv/state\\040dir/storage/vol rw,noatime - btrfs /dev/loop0 rw,discard=async,space_cache=v2',
  '41 40 7:0 /sandboxes/a /srv/state\\040dir/storage/vol/x rw shared:5 master:2 - btrfs /dev/loop0 rw',
].join('\n');

describe('mountinfo', () => {
  test('parses optional fields, super options and octal escapes', () => {
    const entries = parseMountinfo(SAMPLE);
    assert.equal(entries.length, 5);
    const cg = entries[1];
    assert.equal(cg?.fsType, 'cgroup');
    assert.deepEqual(cg?.superOptions, ['rw', 'memory']);
    const vol = entries[3];
    assert.equal(vol?.mountPoint, '/srv/state dir/storage/vol');
    assert.equal(vol?.source, '/dev/loop0');
    assert.equal(entries[4]?.root, '/sandboxes/a');
    assert.equal(entries[4]?.fsType, 'btrfs');
  });

  test('mountsUnder lists a dir and its descendants deepest first, not look-alike siblings', () => {
    const entries = parseMountinfo(`${SAMPLE}\n50 22 0:30 / /srv/state\\040dir/storage/vol2 rw - tmpfs tmpfs rw`);
    const under = mountsUnder('/srv/state dir/storage/vol', entries).map((m) => m.mountPoint);
    assert.deepEqual(under, ['/srv/state dir/storage/vol/x', '/srv/state dir/storage/vol']);
    assert.equal(mountAt('/srv/state dir/storage/vol', entries)?.fsType, 'btrfs');
    assert.equal(mountAt('/nowhere', entries), undefined);
  });

  test('reads the live table', () => {
    assert.ok(readMountinfo().some((m) => m.mountPoint === '/'));
  });
});
