/**
 * Where the cgroup hierarchies are mounted, read from /proc/self/mountinfo. Hosts differ: v1
 * with one hierarchy per controller, the "hybrid" layout (v1 plus an empty cgroup2 tree at
 * /sys/fs/cgroup/unified), or pure v2.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupMount {
  mountPoint: string;
  version: 1 | 2;
  /** v1 controllers of this hierarchy (from the super options); empty for v2. */
  controllers: string[];
}

export function cgroupMounts(): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    const [fsType, , superOptions] = after?.split(' ') ?? [];
    const mountPoint = before?.split(' ')[4];
    if (!mountPoint) continue;
    if (fsType === 'cgroup') mounts.push({ mountPoint, version: 1, controllers: (superOptions ?? '').split(',') });
    else if (fsType === 'cgroup2') mounts.push({ mountPoint, version: 2, controllers: [] });
  }
  return mounts;
}

/** The directory holding a cgroup's memory files: the v1 memory hierarchy, else the v2 tree. */
export function memoryCgroupDir(relativePath: string): { dir: string; version: 1 | 2 } | undefined {
  const mounts = cgroupMounts();
  const v1 = mounts.find((m) => m.version === 1 && m.controllers.includes('memory'));
  if (v1) return { dir: join(v1.mountPoint, relativePath), version: 1 };
  const v2 = mounts.find((m) => m.version === 2 && m.mountPoint === '/sys/fs/cgroup');
  return v2 ? { dir: join(v2.mountPoint, relativePath), version: 2 } : undefined;
}
