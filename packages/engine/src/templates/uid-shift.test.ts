import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { shiftOwnership } from './uid-shift.js';

describe('uid shift', { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, () => {
  const dir = mkdtempSync('/tmp/mitos-test-shift-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('shifts every inode once, keeps setuid/setgid bits, leaves symlink targets alone', () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    mkdirSync(join(root, 'var/mail'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/su'), 'x');
    chmodSync(join(root, 'usr/bin/su'), 0o4755);
    writeFileSync(join(root, 'usr/bin/wall'), 'x');
    chownSync(join(root, 'usr/bin/wall'), 0, 5);
    chmodSync(join(root, 'usr/bin/wall'), 0o2755);
    chownSync(join(root, 'var/mail'), 0, 8);
    chmodSync(join(root, 'var/mail'), 0o2775);
    writeFileSync(join(root, 'usr/bin/a'), 'hard');
    linkSync(join(root, 'usr/bin/a'), join(root, 'usr/bin/b'));
    writeFileSync(join(root, 'home-file'), 'x');
    chownSync(join(root, 'home-file'), 1000, 1000);
    writeFileSync(join(root, 'nobody'), 'x');
    chownSync(join(root, 'nobody'), 65534, 65534);
    // A symlink pointing at a host file: lchown must change the link, never the target.
    const hostFile = join(dir, 'host-file');
    writeFileSync(hostFile, 'host');
    symlinkSync(hostFile, join(root, 'link'));

    const stats = shiftOwnership(root, 100_000);

    const owner = (p: string) => {
      const st = lstatSync(join(root, p));
      return [st.uid, st.gid, st.mode & 0o7777];
    };
    assert.deepEqual(owner('.'), [100_000, 100_000, statSync(root).mode & 0o7777]);
    assert.deepEqual(owner('usr/bin/su'), [100_000, 100_000, 0o4755]);
    assert.deepEqual(owner('usr/bin/wall'), [100_000, 100_005, 0o2755]);
    assert.deepEqual(owner('var/mail'), [100_000, 100_008, 0o2775]);
    assert.deepEqual(owner('usr/bin/a').slice(0, 2), [100_000, 100_000]);
    assert.deepEqual(owner('usr/bin/b').slice(0, 2), [100_000, 100_000]);
    assert.deepEqual(owner('home-file').slice(0, 2), [101_000, 101_000]);
    assert.deepEqual(owner('nobody').slice(0, 2), [165_534, 165_534]);
    assert.deepEqual(owner('link').slice(0, 2), [100_000, 100_000]);
    assert.equal(statSync(hostFile).uid, 0, 'the symlink target on the host is untouched');
    assert.equal(stats.hardlinks, 1);
    assert.equal(stats.modesRestored, 3);
    assert.ok(stats.entries >= 10);
  });

  test('refuses a tree that is already shifted', () => {
    const root = join(dir, 'shifted');
    mkdirSync(root);
    chownSync(root, 100_000, 100_000);
    assert.throws(() => shiftOwnership(root, 100_000), /outside 0\.\.65535/);
  });
});
