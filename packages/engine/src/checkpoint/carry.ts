/**
 * The files of a fork that carries processes: one checkpoint of the parent in memory-backed
 * storage closed to everyone but root, and per child a directory of the same images (hard
 * links) with its own user namespace image (userns-image.ts), from which the launcher restores
 * it (restore.ts). Everything is removed once the children run.
 */
import { chmodSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CriuTool } from '../host/criu.js';
import type { DumpResult } from './dump.js';
import { seedKernelFeatures } from './kernel-features.js';
import { type RestoreLaunch, restoreArgs } from './restore.js';
import { remapUsernsImage } from './userns-image.js';

/** /dev/shm is a tmpfs on every host we run on: the images never reach a disk. */
const MEMORY_BACKED = '/dev/shm';

/**
 * A fresh root-only (0700) directory for one fork's images, named after the engine's state
 * directory so a leftover says whose it is.
 */
export function checkpointWorkDir(stateDir: string, parentId: string): string {
  const dir = join(MEMORY_BACKED, `${basename(stateDir)}-fork-${parentId}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

export function removeCheckpointWorkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Leftovers of this state directory's forks (a server killed mid-fork). */
export function removeStaleCheckpoints(stateDir: string): void {
  const prefix = `${basename(stateDir)}-fork-`;
  let names: string[] = [];
  try {
    names = readdirSync(MEMORY_BACKED);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix)) removeCheckpointWorkDir(join(MEMORY_BACKED, name));
}

const USERNS_IMAGE = /^userns-\d+\.img$/;

/**
 * The child's copy of the images in dir: the same files, but the user namespace maps onto the
 * child's host range instead of the parent's. Part of the restore runs inside the child's user
 * namespace, where the files' owners (the parent's uid, root) are unmapped: the files are
 * readable and the directory searchable by anyone, which reaches no one else, since the work
 * directory above is root's and closed (checkpointWorkDir).
 */
export function childImages(dump: DumpResult, dir: string, parentBase: number, childBase: number): void {
  mkdirSync(dir, { mode: 0o711 });
  chmodSync(dir, 0o711);
  seedKernelFeatures('restore', dir);
  for (const name of readdirSync(dump.dir)) {
    if (!name.endsWith('.img')) continue;
    const source = join(dump.dir, name);
    if (USERNS_IMAGE.test(name)) {
      writeFileSync(join(dir, name), remapUsernsImage(readFileSync(source), parentBase, childBase), { mode: 0o644 });
    } else {
      chmodSync(source, 0o644);
      linkSync(source, join(dir, name));
    }
  }
}

/**
 * What the launcher needs to restore the images in dir onto the prepared rootfs: the CRIU
 * command, and the external mounts' host sources (the binds every sandbox gets) to stage.
 */
export function restoreCommand(
  tool: CriuTool,
  dump: DumpResult,
  work: string,
  dir: string,
  rootfs: string,
  sources: Readonly<Record<string, string>>,
  actionScript: string | undefined,
): RestoreLaunch {
  const pidfile = join(work, 'restore.pid');
  const [file, args] = tool.argv(
    restoreArgs({
      extRoot: work,
      externalMounts: sources,
      rootfs,
      externalSockets: dump.externalSockets,
      pidfile,
      actionScript,
    }),
  );
  return { criuArgv: [file, ...args], pidfile, imagesDir: dir, extRoot: work, external: sources };
}
