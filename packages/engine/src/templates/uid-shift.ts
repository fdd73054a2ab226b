/**
 * Moves a freshly built tree into the sandbox uid range (uid -> uid + base, gid -> gid + base),
 * once, at build time, so sandboxes share the tree read-only and see it owned by their own root.
 *
 * Synchronous on purpose: it is tens of thousands of lchown calls on a build path that runs
 * once per image; the async fs API would add a promise and a thread-pool hop per file.
 */
import { chmodSync, lchownSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { UID_RANGE_SIZE } from '../host/uid-range.js';

export interface ShiftStats {
  /** Inodes shifted (each hard-linked inode once). */
  entries: number;
  /** Directory entries skipped because their inode was already shifted through another link. */
  hardlinks: number;
  /** setuid/setgid modes put back after chown cleared them. */
  modesRestored: number;
  /** Apparent size of all regular files, in bytes. */
  bytes: number;
  ms: number;
}

const SPECIAL_BITS = 0o6000;

/**
 * Shift every inode under `root` (and `root` itself) by `base` (from ids based at `fromBase`:
 * `shiftOwnership(tree, 0, uidBase)` takes a template tree back to plain ids, for export). Refuses ids already outside
 * 0..65535: that tree is not a fresh build (perhaps already shifted) and shifting it again
 * would hand it to ids no sandbox maps. `check` sees every inode first and may refuse it by throwing.
 */
export function shiftOwnership(
  root: string,
  base: number,
  fromBase = 0,
  check?: (path: string, st: Stats) => void,
): ShiftStats {
  const started = performance.now();
  const stats: ShiftStats = { entries: 0, hardlinks: 0, modesRestored: 0, bytes: 0, ms: 0 };
  // Shifting a hard-linked inode twice would move it out of the range; remember each one.
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    const st = lstatSync(path);
    check?.(path, st);
    const isDir = st.isDirectory();
    if (!isDir && st.nlink > 1) {
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) {
        stats.hardlinks++;
        continue;
      }
      seen.add(id);
    }
    const [uid, gid] = [st.uid - fromBase, st.gid - fromBase];
    if (uid < 0 || gid < 0 || uid >= UID_RANGE_SIZE || gid >= UID_RANGE_SIZE) {
      throw new Error(
        `refusing to shift ${path}: owner ${st.uid}:${st.gid} is outside ${fromBase}..${fromBase + UID_RANGE_SIZE - 1}`,
      );
    }
    lchownSync(path, uid + base, gid + base);
    stats.entries++;
    if (st.isFile()) stats.bytes += st.size;
    // chown clears setuid/setgid on non-directories even for root (Linux >= 2.2.13).
    if ((st.mode & SPECIAL_BITS) !== 0 && !st.isSymbolicLink()) {
      chmodSync(path, st.mode & 0o7777);
      stats.modesRestored++;
    }
    if (isDir) {
      for (const name of readdirSync(path)) stack.push(join(path, name));
    }
  }
  stats.ms = performance.now() - started;
  return stats;
}
