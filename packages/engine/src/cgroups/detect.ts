/**
 * Picks the cgroup manager for this host: v2 when /sys/fs/cgroup is a unified hierarchy with
 * memory, pids and cpu available; v1 when the controllers are mounted as separate hierarchies
 * (the "hybrid" layout of this host, where cgroup2 at /sys/fs/cgroup/unified has none).
 */
import { readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { type MountEntry, mountAt, readMountinfo } from '../host/mountinfo.js';
import type { CgroupManager } from './cgroup.js';
import { otherHierarchies } from './hierarchies.js';
import { CgroupV1Manager, findV1Mounts, V1_REQUIRED } from './v1.js';
import { CgroupV2Manager, V2_CONTROLLERS } from './v2.js';

export interface DetectOptions {
  /** Parent directory name (default `mitos`); tests use a unique one and removeCgroupParent. */
  parent?: string;
  mountinfo?: MountEntry[];
  /** Where the cgroup filesystems are; default /sys/fs/cgroup. */
  root?: string;
}

export interface CgroupSupport {
  version: 'v1' | 'v2' | undefined;
  controllers: string[];
  missing: string[];
}

/** What the host offers, without creating anything (also used by `mitos doctor`). */
export function probeCgroups(options: DetectOptions = {}): CgroupSupport {
  const root = options.root ?? '/sys/fs/cgroup';
  const entries = options.mountinfo ?? readMountinfo();
  if (mountAt(root, entries)?.fsType === 'cgroup2') {
    let controllers: string[] = [];
    try {
      controllers = readFileSync(join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      // Unreadable: report everything missing.
    }
    return { version: 'v2', controllers, missing: V2_CONTROLLERS.filter((c) => !controllers.includes(c)) };
  }
  const mounts = findV1Mounts(entries);
  const controllers = Object.keys(mounts);
  return { version: mounts.memory ? 'v1' : undefined, controllers, missing: V1_REQUIRED.filter((c) => !mounts[c]) };
}

export function detectCgroups(options: DetectOptions = {}): CgroupManager & { parentDirs(): string[] } {
  const support = probeCgroups(options);
  if (support.version === undefined || support.missing.length > 0) {
    const what = support.version
      ? `cgroup ${support.version} lacks ${support.missing.join(', ')}`
      : 'no cgroup v2 hierarchy and no cgroup v1 memory controller found';
    throw new MitosError(
      'host_unsupported',
      what,
      {},
      {
        remediation:
          'mount cgroup2 at /sys/fs/cgroup with memory, pids and cpu enabled (or the v1 memory, pids, cpu and freezer hierarchies); run `mitos doctor`',
      },
    );
  }
  if (support.version === 'v2') return new CgroupV2Manager({ root: options.root, parent: options.parent });
  const entries = options.mountinfo ?? readMountinfo();
  const mounts = findV1Mounts(entries);
  const others = otherHierarchies(entries, Object.values(mounts));
  return new CgroupV1Manager({ parent: options.parent, mounts, others });
}

/**
 * Kill and remove every sandbox cgroup under `parent`, then the parent itself, in every
 * hierarchy (end of a test run that used its own parent). Pass the manager the test used when
 * it was not made by detectCgroups().
 */
export async function removeCgroupParent(
  parent: string,
  manager?: CgroupManager & { parentDirs(): string[] },
): Promise<void> {
  const cgroups = manager ?? detectCgroups({ parent });
  for (const id of cgroups.list()) await cgroups.open(id)?.destroy();
  for (const dir of cgroups.parentDirs()) {
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
