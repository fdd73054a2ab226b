import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { checkpointWorkDir, childImages, removeCheckpointWorkDir, removeStaleCheckpoints } from './carry.js';
import { remapUsernsImage } from './userns-image.js';

/** A userns image mapping 0 -> base (65536 ids), as CRIU writes it. */
function usernsImage(base: number): Buffer {
  const varint = (v: number) => {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    return [...out, v];
  };
  const extent = [0x08, 0, 0x10, ...varint(base), 0x18, ...varint(65_536)];
  const body = [0x0a, extent.length, ...extent, 0x12, extent.length, ...extent];
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from([0x19, 0x43, 0x56, 0x54, 0x06, 0x49, 0x47, 0x55]), size, Buffer.from(body)]);
}

test("a fork's images: a root-only work dir, per child the same files with its own uid map", () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'mitos-test-carry-'));
  const work = checkpointWorkDir(stateDir, 'parent');
  try {
    assert.ok(basename(work).startsWith(`${basename(stateDir)}-fork-parent-`));
    const st = statSync(work);
    assert.equal(st.mode & 0o777, 0o700, 'the work dir is closed to everyone but root');
    assert.equal(st.uid, 0);
    const dump = join(work, 'parent');
    mkdirSync(dump, { mode: 0o700 });
    writeFileSync(join(dump, 'pages-1.img'), 'memory', { mode: 0o600 });
    writeFileSync(join(dump, 'userns-13.img'), usernsImage(1_100_000), { mode: 0o600 });
    writeFileSync(join(dump, 'dump.log'), 'log');
    const child = join(work, 'child');
    childImages({ dir: dump, externalSockets: [] }, child, 1_100_000, 2_000_000);
    assert.deepEqual(readdirSync(child).sort(), ['pages-1.img', 'userns-13.img'], 'images only, no log');
    assert.equal(statSync(child).mode & 0o777, 0o711);
    // The same inode (no copy of the memory), readable from inside the child's namespace.
    assert.equal(statSync(join(child, 'pages-1.img')).ino, statSync(join(dump, 'pages-1.img')).ino);
    assert.equal(statSync(join(child, 'pages-1.img')).mode & 0o777, 0o644);
    assert.deepEqual(readFileSync(join(child, 'userns-13.img')), usernsImage(2_000_000));
    assert.deepEqual(readFileSync(join(dump, 'userns-13.img')), usernsImage(1_100_000), "the parent's is untouched");
    assert.deepEqual(remapUsernsImage(usernsImage(2_000_000), 2_000_000, 1_100_000), usernsImage(1_100_000));
    // A server killed mid-fork leaves the work dir: the next open removes it.
    removeStaleCheckpoints(stateDir);
    assert.throws(() => statSync(work), /ENOENT/);
  } finally {
    removeCheckpointWorkDir(work);
    rmSync(stateDir, { recursive: true, force: true });
  }
});
