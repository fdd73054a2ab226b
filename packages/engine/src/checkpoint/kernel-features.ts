/**
 * CRIU probes the kernel's features on every run (a throwaway veth, the vDSO, pagemap: tens of
 * milliseconds, more under load) unless it finds the result in `criu.kdat`, which it keeps
 * only on a tmpfs: as root in /run/criu.kdat, as another uid in $XDG_RUNTIME_DIR. Neither is a
 * tmpfs the engine may count on, so each run is pointed at its images directory (in /dev/shm):
 * the dump through XDG_RUNTIME_DIR (dump.ts), the restore through a bind of that directory on
 * the launcher's /run (launch-restore.c). The first file each kind of run leaves is kept in
 * memory for this engine's life (one boot, one kernel) and put where the next run looks.
 * Dump and restore keep apart: a run as root finds features a run as another uid cannot.
 */
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KERNEL_FEATURES_FILE = 'criu.kdat';

const kept: { dump?: Buffer; restore?: Buffer } = {};

/** Put the kept result of `kind` into dir, readable by uid (CRIU's, for the dump). */
export function seedKernelFeatures(kind: 'dump' | 'restore', dir: string, uid = 0): void {
  const features = kept[kind];
  if (!features) return;
  const file = join(dir, KERNEL_FEATURES_FILE);
  writeFileSync(file, features, { mode: 0o600 });
  if (uid !== 0) chownSync(file, uid, uid);
}

/** Keep the file a successful run of `kind` left in dir, if none is kept yet. */
export function keepKernelFeatures(kind: 'dump' | 'restore', dir: string): void {
  if (kept[kind]) return;
  try {
    kept[kind] = readFileSync(join(dir, KERNEL_FEATURES_FILE));
  } catch {
    // Left none: the next run probes again.
  }
}
