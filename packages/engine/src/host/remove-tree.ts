/**
 * Removing a directory tree that something may have mounted into. A plain recursive rm would
 * descend into a leftover /proc or bind mount and delete (or fail on) files of the host.
 */
import { realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { mountsUnder } from './mountinfo.js';
import { tryRun } from './run.js';

/** Detach every mount under `dir` (lazily: these are leftovers nobody should be using), then rm -rf. */
export async function removeTree(path: string): Promise<void> {
  let dir: string;
  try {
    // mountinfo lists real paths; a symlinked state dir would otherwise match nothing.
    dir = realpathSync(path);
  } catch {
    dir = resolve(path);
  }
  for (const m of mountsUnder(dir)) await tryRun('umount', ['-l', m.mountPoint]);
  const left = mountsUnder(dir);
  if (left.length > 0)
    throw new Error(`cannot remove ${dir}: still mounted at ${left.map((m) => m.mountPoint).join(', ')}`);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
