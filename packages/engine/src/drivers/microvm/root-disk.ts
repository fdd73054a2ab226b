/**
 * A VM's root disk: the template tree the Linux driver also uses, as an ext4 image made with
 * `mkfs.ext4 -d` and cached by template key. The cached trees are shifted into the container
 * uid range (root = 100000); inside a VM root is 0 again, so the tree is copied and shifted
 * back before mkfs. Each sandbox writes to its own qcow2 overlay on top of this read-only image.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from '../../host/remove-tree.js';
import { run } from '../../host/run.js';
import { UID_RANGE_SIZE } from '../../host/uid-range.js';
import { acquireLock } from '../../templates/build-lock.js';

/** Bump when the image layout changes. */
const DISK_VERSION = 1;
/** The guest's root filesystem size; the image is sparse, so unused space costs nothing. */
export const DEFAULT_DISK_BYTES = 4 * 1024 ** 3;

export function rootDiskKey(imageKey: string, sizeBytes: number): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: DISK_VERSION, imageKey, sizeBytes }))
    .digest('hex');
}

export function rootDiskPath(cacheDir: string, imageKey: string, sizeBytes = DEFAULT_DISK_BYTES): string {
  return join(cacheDir, 'microvm', 'disks', `${rootDiskKey(imageKey, sizeBytes).slice(0, 32)}.raw`);
}

/** Undo the container uid shift in place: ids in [base, base + 65536) move back to [0, 65536). */
export function unshiftOwnership(root: string, base: number): number {
  let n = 0;
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    const st = lstatSync(path);
    if (!st.isDirectory() && st.nlink > 1) {
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
    }
    const back = (id: number) => (id >= base && id < base + UID_RANGE_SIZE ? id - base : id);
    if (back(st.uid) !== st.uid || back(st.gid) !== st.gid) {
      lchownSync(path, back(st.uid), back(st.gid));
      n++;
      // chown clears setuid/setgid on files; put them back.
      if ((st.mode & 0o6000) !== 0 && !st.isSymbolicLink()) chmodSync(path, st.mode & 0o7777);
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) stack.push(join(path, name));
  }
  return n;
}

export interface RootDiskInputs {
  cacheDir: string;
  imageKey: string;
  /** The cached template tree (shifted by uidBase). */
  rootfs: string;
  uidBase: number;
  sizeBytes?: number;
  onProgress?: (line: string) => void;
}

/** Path of the raw ext4 image for a template, building it if the cache lacks it. */
export async function ensureRootDisk(inputs: RootDiskInputs): Promise<string> {
  const size = inputs.sizeBytes ?? DEFAULT_DISK_BYTES;
  const path = rootDiskPath(inputs.cacheDir, inputs.imageKey, size);
  if (existsSync(path)) return path;
  const dir = join(inputs.cacheDir, 'microvm', 'disks');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const lock = await acquireLock(`${path}.lock`, { timeoutMs: 30 * 60_000 });
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    if (existsSync(path)) return path;
    const started = performance.now();
    mkdirSync(tmp, { mode: 0o700 });
    inputs.onProgress?.('copying the template tree for the VM disk');
    await run('cp', ['-a', '--reflink=auto', `${inputs.rootfs}/.`, join(tmp, 'tree')], { timeoutMs: 30 * 60_000 });
    const changed = unshiftOwnership(join(tmp, 'tree'), inputs.uidBase);
    inputs.onProgress?.(`unshifted ${changed} inodes; making the ext4 image`);
    const image = join(tmp, 'disk.raw');
    // No journal: a sandbox disk is never replayed after a crash (its overlay is discarded),
    // and a snapshot is consistent because guest RAM and disk are captured at one instant.
    await run(
      'mkfs.ext4',
      [
        '-q',
        '-F',
        '-t',
        'ext4',
        '-O',
        '^has_journal',
        '-L',
        'mitos-root',
        '-E',
        'root_owner=0:0',
        '-d',
        join(tmp, 'tree'),
        image,
        `${Math.floor(size / 1024)}k`,
      ],
      { timeoutMs: 30 * 60_000 },
    );
    chmodSync(image, 0o644);
    renameSync(image, path);
    inputs.onProgress?.(`VM root disk ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return path;
  } finally {
    await removeTree(tmp).catch(() => {});
    lock.release();
  }
}
