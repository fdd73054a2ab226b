/**
 * A fork's snapshots, each made in a staging directory of its own and then renamed into place.
 * The agent's snapshotter makes them all at once, and btrfs lets snapshots share one
 * transaction commit only when their target directories differ (the ioctl holds the target
 * directory's lock across the commit; agent snapshot.c), so a fan-out of 16 costs about one
 * commit instead of 16 while the parent is frozen (packages/bench/spike/snapshot-batch.sh).
 */
import { mkdirSync, readdirSync, renameSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from '../host/remove-tree.js';
import { tempName } from './names.js';

export type Snapshotter = (source: string, targets: string[]) => Promise<void>;
type DeleteSubvolume = (path: string) => Promise<void>;

/** Snapshots of `source` at `<dir>/<id>` for each id (names checked by the caller). */
export async function snapshotStaged(
  source: string,
  dir: string,
  ids: string[],
  snapshotter: Snapshotter,
  deleteSubvolume: DeleteSubvolume,
): Promise<void> {
  const stages = ids.map((id) => join(dir, tempName(id)));
  const staged = stages.map((stage, i) => join(stage, ids[i] as string));
  try {
    for (const stage of stages) mkdirSync(stage, { mode: 0o700 });
    await snapshotter(source, staged);
    for (const [i, id] of ids.entries()) renameSync(staged[i] as string, join(dir, id));
  } finally {
    for (const stage of stages) await removeDebris(stage, deleteSubvolume);
  }
}

/** The root directory of a btrfs subvolume always has inode 256 (BTRFS_FIRST_FREE_OBJECTID). */
function isSubvolume(path: string): boolean {
  return statSync(path).ino === 256;
}

/**
 * Remove a temp entry: a subvolume, or a staging directory with whatever snapshots a failed
 * (or killed) fork left in it. Missing: nothing to do.
 */
export async function removeDebris(path: string, deleteSubvolume: DeleteSubvolume): Promise<void> {
  let entries: string[];
  try {
    if (isSubvolume(path)) return deleteSubvolume(path);
    entries = readdirSync(path);
  } catch {
    return; // gone
  }
  for (const name of entries) {
    const entry = join(path, name);
    if (isSubvolume(entry)) await deleteSubvolume(entry);
  }
  try {
    rmdirSync(path); // a staging directory, emptied by the rename
  } catch {
    await removeTree(path);
  }
}
