/**
 * Removes a cgroup parent directory (and any empty children) from every mounted hierarchy. The
 * bench gives its engine, and the OCI runtimes it runs, parents of their own so that the end of
 * a run can remove them without touching any other mitos on the host.
 * @module
 */
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupMounts } from './cgroup-fs.js';

/**
 * rmdir `<mount>/<parent>` depth first in every hierarchy. A cgroup that still has tasks cannot
 * be removed; those are returned rather than thrown, so the rest of the clean-up still runs.
 */
export function removeCgroupParent(parent: string): string[] {
  if (!/^[A-Za-z0-9_-]+$/.test(parent)) throw new Error(`refusing to remove cgroup parent ${JSON.stringify(parent)}`);
  const leftovers: string[] = [];
  for (const { mountPoint } of cgroupMounts()) removeTree(join(mountPoint, parent), leftovers);
  return leftovers;
}

function removeTree(dir: string, leftovers: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const child of entries) removeTree(join(dir, child), leftovers);
  try {
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') leftovers.push(dir);
  }
}
