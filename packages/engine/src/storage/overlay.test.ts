import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MitosError } from '@mitos/protocol';
import { mountsUnder } from '../host/mountinfo.js';
import { OverlayStorage } from './overlay.js';
import type { RootLayout } from './storage.js';

const UID_BASE = 100_000;

/**
 * Mount the overlay the way the launcher does (host root, in a private mount namespace, so the
 * host mount table never sees it), then run `then` in it as sandbox root (host uid UID_BASE).
 */
function inLaunchedRoot(layout: RootLayout, then: string): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', mountScript(layout, then)], {
    encoding: 'utf8',
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

function mountScript(layout: RootLayout, then: string): string {
  assert.equal(layout.kind, 'overlay');
  if (layout.kind !== 'overlay') return '';
  const opts = `lowerdir=${layout.lowerdirs.join(':')},upperdir=${layout.upperdir},workdir=${layout.workdir},userxattr`;
  const asSandboxRoot = `setpriv --reuid=${UID_BASE} --regid=${UID_BASE} --clear-groups`;
  return `set -e; mount -t overlay overlay -o ${opts} ${layout.rootfs}; cd ${layout.rootfs}; ${asSandboxRoot} sh -c '${then}'`;
}

describe('overlay storage', { skip: process.getuid?.() !== 0 && 'needs root', timeout: 60_000 }, () => {
  const stateDir = mkdtempSync('/tmp/mitos-test-overlay-');
  const source = join(stateDir, 'source');
  const storage = new OverlayStorage({ stateDir, uidBase: UID_BASE });
  const dirOf = (id: string) => join(stateDir, 'storage', 'sandboxes', id);

  before(async () => {
    mkdirSync(join(source, 'etc'), { recursive: true });
    mkdirSync(join(source, 'workspace'));
    writeFileSync(join(source, 'etc/os-release'), 'ID=debian\n');
    writeFileSync(join(source, 'etc/motd'), 'hello\n');
    for (const p of ['.', 'etc', 'etc/os-release', 'etc/motd', 'workspace'])
      chownSync(join(source, p), UID_BASE, UID_BASE);
    await storage.open();
  });
  after(async () => {
    await storage.destroy();
    assert.deepEqual(mountsUnder(stateDir), [], 'the overlay never shows up in the host mount table');
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('importImage copies the tree once', async () => {
    await Promise.all([storage.importImage('img', source), storage.importImage('img', source)]);
    assert.equal(storage.hasImage('img'), true);
    const image = join(stateDir, 'storage/images/img');
    assert.equal(readFileSync(join(image, 'etc/os-release'), 'utf8'), 'ID=debian\n');
    assert.equal(statSync(image).uid, UID_BASE);
    assert.deepEqual(
      spawnSync('ls', ['-A', join(stateDir, 'storage/images')], { encoding: 'utf8' }).stdout.trim(),
      'img',
    );
  });

  test('createRoot lays out upper, work and rootfs owned by sandbox root', async () => {
    const layout = await storage.createRoot('ov-a', 'img');
    assert.deepEqual(layout, {
      kind: 'overlay',
      lowerdirs: [join(stateDir, 'storage/images/img')],
      upperdir: join(dirOf('ov-a'), 'upper'),
      workdir: join(dirOf('ov-a'), 'work'),
      rootfs: join(dirOf('ov-a'), 'rootfs'),
    });
    for (const [name, mode] of [
      ['upper', statSync(source).mode & 0o7777],
      ['work', 0o700],
      ['rootfs', 0o755],
    ] as const) {
      const st = lstatSync(join(dirOf('ov-a'), name));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [UID_BASE, UID_BASE, mode], name);
    }
    assert.equal(statSync(dirOf('ov-a')).mode & 0o777, 0o700);
    assert.deepEqual(storage.rootLayout('ov-a'), layout);
    assert.deepEqual(
      new OverlayStorage({ stateDir, uidBase: UID_BASE }).rootLayout('ov-a'),
      layout,
      'the layout survives a restart',
    );
  });

  test("the launcher mounts the overlay privately; a fork copies sandbox root's writes and deletions", async () => {
    const a = storage.rootLayout('ov-a') as RootLayout;
    const wrote = inLaunchedRoot(a, 'echo a > workspace/from-a; rm etc/motd; id -u');
    assert.equal(wrote.status, 0, wrote.stderr);
    assert.equal(wrote.stdout.trim(), String(UID_BASE));
    assert.equal(
      lstatSync(join(dirOf('ov-a'), 'upper/workspace/from-a')).uid,
      UID_BASE,
      'writes land in the upper as host uid base',
    );

    const b = await storage.snapshotRoot('ov-a', 'ov-b');
    assert.equal(b.kind === 'overlay' && b.lowerdirs.join(), join(stateDir, 'storage/images/img'));
    const seen = inLaunchedRoot(
      b,
      'cat workspace/from-a; test ! -e etc/motd && echo motd-gone; echo b > workspace/only-b',
    );
    assert.equal(seen.status, 0, seen.stderr);
    assert.equal(seen.stdout, 'a\nmotd-gone\n');
    assert.equal(
      existsSync(join(dirOf('ov-a'), 'upper/workspace/only-b')),
      false,
      'a write in the fork does not reach the parent',
    );
    assert.equal(
      readFileSync(join(stateDir, 'storage/images/img/etc/motd'), 'utf8'),
      'hello\n',
      'the image is untouched',
    );
  });

  test('negative: conflict on an existing root, not_found for a missing image or source', async () => {
    await assert.rejects(storage.createRoot('ov-a', 'img'), (e: MitosError) => e.code === 'conflict');
    await assert.rejects(storage.createRoot('ov-x', 'nope'), (e: MitosError) => e.code === 'not_found');
    await assert.rejects(storage.snapshotRoot('nope', 'ov-y'), (e: MitosError) => e.code === 'not_found');
  });

  test('usage, listRoots and removeRoot', async () => {
    const usage = await storage.usage('ov-a');
    assert.ok(usage && usage.exclusiveBytes > 0 && usage.sharedBytes > 0, JSON.stringify(usage));
    assert.deepEqual(storage.listRoots().sort(), ['ov-a', 'ov-b']);
    await storage.removeRoot('ov-b');
    await storage.removeRoot('ov-b');
    assert.deepEqual(storage.listRoots(), ['ov-a']);
    assert.equal(storage.rootLayout('ov-b'), undefined);
  });
});
