import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MitosError } from '@mitos/protocol';
import { skipUnlessAvailable } from '@mitos/testkit';
import { mountsUnder } from '../host/mountinfo.js';
import { BtrfsStorage } from './btrfs.js';
import { probeBtrfs } from './probe.js';

const probe = probeBtrfs();
const skip = skipUnlessAvailable('btrfs', probe.ok ? undefined : probe.detail);
const GiB = 1024 ** 3;

function loopsBacking(image: string): string {
  return existsSync(image) ? execFileSync('losetup', ['-j', image], { encoding: 'utf8' }).trim() : '';
}

function assertNoLeftovers(stateDir: string): void {
  assert.deepEqual(
    mountsUnder(stateDir).map((m) => m.mountPoint),
    [],
    'no mount under the state dir',
  );
  assert.equal(loopsBacking(join(stateDir, 'storage', 'btrfs.img')), '', 'no loop device backs the image');
}

function makeTree(dir: string): void {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'workspace'));
  writeFileSync(join(dir, 'etc', 'os-release'), 'ID=debian\n');
  for (const p of ['.', 'etc', 'etc/os-release', 'workspace']) chownSync(join(dir, p), 100_000, 100_000);
}

describe('btrfs storage', { skip, timeout: 120_000 }, () => {
  const stateDir = mkdtempSync('/tmp/mitos-test-btrfs-');
  const source = join(stateDir, 'source');
  let storage: BtrfsStorage;
  const root = (id: string) => join(storage.mountPoint, 'sandboxes', id);
  const upper = (id: string, path = '') => join(root(id), 'upper', path);

  before(async () => {
    makeTree(source);
    storage = new BtrfsStorage({ stateDir, sizeBytes: 1 * GiB });
  });
  after(async () => {
    await storage.destroy();
    assertNoLeftovers(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('open mounts a loop volume, is idempotent and uses one loop device', async () => {
    await Promise.all([storage.open(), storage.open()]);
    await storage.open();
    const mounts = mountsUnder(stateDir);
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]?.fsType, 'btrfs');
    assert.equal(mounts[0]?.mountPoint, storage.mountPoint);
    assert.equal(loopsBacking(join(stateDir, 'storage', 'btrfs.img')).split('\n').length, 1);
    assert.ok(statSync(join(stateDir, 'storage', 'btrfs.img')).blocks * 512 < 0.2 * GiB, 'the image is sparse');
  });

  test('importImage makes a read-only subvolume, once, even when called concurrently', async () => {
    assert.equal(storage.hasImage('img1'), false);
    await Promise.all([storage.importImage('img1', source), storage.importImage('img1', source)]);
    await storage.importImage('img1', source);
    assert.equal(storage.hasImage('img1'), true);
    const image = join(storage.mountPoint, 'images', 'img1');
    assert.equal(readFileSync(join(image, 'etc/os-release'), 'utf8'), 'ID=debian\n');
    assert.equal(statSync(image).uid, 100_000, 'ownership is preserved');
    assert.match(execFileSync('btrfs', ['property', 'get', '-ts', image, 'ro'], { encoding: 'utf8' }), /ro=true/);
    assert.throws(() => writeFileSync(join(image, 'x'), 'x'), /EROFS/);
    assert.deepEqual(
      execFileSync('ls', ['-A', join(storage.mountPoint, 'images')], { encoding: 'utf8' }).trim(),
      'img1',
      'no temp subvolume left',
    );
  });

  test('createRoot and snapshotRoot give overlay roots over the shared image with independent uppers', async () => {
    const a = await storage.createRoot('sb-a', 'img1');
    const image = join(storage.mountPoint, 'images', 'img1');
    const overlayOf = (id: string) => ({
      kind: 'overlay',
      lowerdirs: [image],
      upperdir: join(root(id), 'upper'),
      workdir: join(root(id), 'work'),
      rootfs: join(root(id), 'rootfs'),
    });
    assert.deepEqual(a, overlayOf('sb-a'));
    assert.equal(statSync(upper('sb-a')).uid, 100_000, 'the upper root takes the image root owner');
    mkdirSync(upper('sb-a', 'workspace'));
    writeFileSync(upper('sb-a', 'workspace/from-a'), 'a1');
    const b = await storage.snapshotRoot('sb-a', 'sb-b');
    assert.deepEqual(b, overlayOf('sb-b'));
    assert.equal(readFileSync(upper('sb-b', 'workspace/from-a'), 'utf8'), 'a1', 'the fork sees the parent state');
    writeFileSync(upper('sb-b', 'workspace/from-a'), 'b-overwrote');
    writeFileSync(upper('sb-b', 'workspace/only-b'), 'b');
    writeFileSync(upper('sb-a', 'workspace/only-a'), 'a2');
    assert.equal(
      readFileSync(upper('sb-a', 'workspace/from-a'), 'utf8'),
      'a1',
      'a write in the fork does not reach the parent',
    );
    assert.equal(existsSync(upper('sb-a', 'workspace/only-b')), false);
    assert.equal(
      existsSync(upper('sb-b', 'workspace/only-a')),
      false,
      'a later write in the parent does not reach the fork',
    );
    assert.equal(existsSync(join(image, 'workspace/from-a')), false, 'the image is untouched');
    assert.deepEqual(storage.listRoots().sort(), ['sb-a', 'sb-b']);
    assert.deepEqual(storage.rootLayout('sb-b'), b);
    assert.equal(storage.rootLayout('nope'), undefined);
  });

  test('a whole-tree root is published by commitRoot; an overlay root is not; a used image is not removed', async () => {
    const whole = await storage.createRoot('sb-w', 'img1', { wholeTree: true });
    assert.deepEqual(whole, { kind: 'bind', rootfs: root('sb-w') });
    writeFileSync(join(root('sb-w'), 'workspace/step'), 'built');
    await storage.commitRoot('sb-w', 'img-w');
    assert.equal(readFileSync(join(storage.mountPoint, 'images/img-w/workspace/step'), 'utf8'), 'built');
    await assert.rejects(storage.commitRoot('sb-a', 'img-a'), (e: MitosError) => /overlay/.test(e.detail ?? e.message));
    assert.equal(storage.hasImage('img-a'), false);
    await assert.rejects(storage.removeImage('img1'), (e: MitosError) => e.code === 'conflict');
    assert.equal(storage.hasImage('img1'), true);
    await storage.removeImage('img-w');
    assert.equal(storage.hasImage('img-w'), false);
    await storage.removeRoot('sb-w');
  });

  test('a root made before the overlay layout (a whole-image snapshot) is still a bind root', async () => {
    execFileSync('btrfs', ['subvolume', 'snapshot', join(storage.mountPoint, 'images/img1'), root('sb-legacy')]);
    assert.deepEqual(storage.rootLayout('sb-legacy'), { kind: 'bind', rootfs: root('sb-legacy') });
    const fork = await storage.snapshotRoot('sb-legacy', 'sb-legacy-fork');
    assert.deepEqual(fork, { kind: 'bind', rootfs: root('sb-legacy-fork') });
    await storage.removeRoot('sb-legacy');
    await storage.removeRoot('sb-legacy-fork');
  });

  test('negative: existing target is conflict, missing image or source is not_found, bad ids are rejected', async () => {
    await assert.rejects(storage.createRoot('sb-a', 'img1'), (e: MitosError) => e.code === 'conflict');
    await assert.rejects(storage.createRoot('sb-x', 'no-such-image'), (e: MitosError) => e.code === 'not_found');
    await assert.rejects(storage.snapshotRoot('no-such-sandbox', 'sb-y'), (e: MitosError) => e.code === 'not_found');
    await assert.rejects(storage.createRoot('../escape', 'img1'), (e: MitosError) => e.code === 'invalid_request');
  });

  test('snapshotRoots makes every child its own subvolume of one instant and leaves no staging directory', async () => {
    writeFileSync(upper('sb-a', 'workspace/fan'), 'out');
    const ids = ['sb-f1', 'sb-f2', 'sb-f3'];
    const layouts = await storage.snapshotRoots('sb-a', ids);
    assert.deepEqual(
      layouts.map((l) => l.kind === 'overlay' && l.upperdir),
      ids.map((id) => upper(id)),
    );
    for (const id of ids) {
      assert.equal(readFileSync(upper(id, 'workspace/fan'), 'utf8'), 'out');
      assert.equal(statSync(root(id)).ino, 256, `${id} is a subvolume of its own`);
    }
    writeFileSync(upper('sb-f1', 'workspace/fan'), 'f1');
    assert.equal(readFileSync(upper('sb-f2', 'workspace/fan'), 'utf8'), 'out', 'siblings do not share writes');
    const left = execFileSync('ls', ['-A', join(storage.mountPoint, 'sandboxes')], { encoding: 'utf8' });
    assert.doesNotMatch(left, /\.tmp-/, 'no staging directory is left');
    for (const id of ids) await storage.removeRoot(id);
  });

  test('a staging directory a killed fork left (with its snapshot inside) is removed at the next open', async () => {
    // As a fork killed between the snapshot and its rename leaves it: a dead process's temp name.
    const stage = join(storage.mountPoint, 'sandboxes', '.tmp-sb-dead-999999999-abcdef');
    mkdirSync(stage);
    execFileSync('btrfs', ['subvolume', 'snapshot', root('sb-a'), join(stage, 'sb-dead')]);
    const again = new BtrfsStorage({ stateDir, sizeBytes: 1 * GiB });
    await again.open();
    assert.equal(existsSync(stage), false);
    assert.doesNotMatch(
      execFileSync('btrfs', ['subvolume', 'list', storage.mountPoint], { encoding: 'utf8' }),
      /sb-dead/,
    );
    assert.equal(again.listRoots().includes('sb-dead'), false);
  });

  test('removeRoot deletes nested and read-only subvolumes a sandbox made; missing roots are fine', async () => {
    await storage.createRoot('sb-c', 'img1');
    const c = root('sb-c');
    execFileSync('btrfs', ['subvolume', 'create', join(c, 'upper/inner')]);
    execFileSync('btrfs', ['subvolume', 'create', join(c, 'upper/inner/deeper')]);
    execFileSync('btrfs', ['property', 'set', '-ts', join(c, 'upper/inner'), 'ro', 'true']);
    execFileSync('btrfs', ['property', 'set', '-ts', c, 'ro', 'true']);
    await storage.removeRoot('sb-c');
    assert.equal(existsSync(c), false);
    assert.doesNotMatch(execFileSync('btrfs', ['subvolume', 'list', storage.mountPoint], { encoding: 'utf8' }), /sb-c/);
    await storage.removeRoot('sb-c');
    await storage.removeRoot('never-existed');
  });

  test('usage is undefined without quotas', async () => {
    assert.equal(await storage.usage('sb-a'), undefined);
  });

  test('destroy leaves no mount or loop device; reopening finds everything again', async () => {
    await storage.destroy();
    assertNoLeftovers(stateDir);
    await storage.destroy();
    const again = new BtrfsStorage({ stateDir, sizeBytes: 1 * GiB });
    await again.open();
    assert.equal(again.hasImage('img1'), true);
    assert.deepEqual(again.listRoots().sort(), ['sb-a', 'sb-b']);
    assert.equal(readFileSync(upper('sb-b', 'workspace/only-b'), 'utf8'), 'b');
    await again.removeRoot('sb-b');
    await again.destroy();
    assertNoLeftovers(stateDir);
    // The original instance can open again after its own destroy.
    await storage.open();
    assert.deepEqual(storage.listRoots(), ['sb-a']);
  });
});

describe('btrfs storage with quotas', { skip, timeout: 120_000 }, () => {
  const stateDir = mkdtempSync('/tmp/mitos-test-btrfsq-');
  const storage = new BtrfsStorage({ stateDir, sizeBytes: 1 * GiB, quotas: true });
  after(async () => {
    await storage.destroy();
    assertNoLeftovers(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('usage reports a sandbox its own writes as exclusive bytes', async () => {
    makeTree(join(stateDir, 'source'));
    await storage.open();
    await storage.importImage('img', join(stateDir, 'source'));
    await storage.createRoot('q1', 'img');
    writeFileSync(join(storage.mountPoint, 'sandboxes/q1/upper/blob'), Buffer.alloc(4 * 1024 * 1024, 1));
    // qgroup numbers are as of the last transaction commit.
    execFileSync('btrfs', ['filesystem', 'sync', storage.mountPoint]);
    const usage = await storage.usage('q1');
    assert.ok(usage && usage.exclusiveBytes >= 4 * 1024 * 1024, JSON.stringify(usage));
    assert.equal(await storage.usage('missing'), undefined);
  });
});
