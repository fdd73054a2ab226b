/**
 * The cgroup hierarchies a v1 host mounts besides the controllers we limit (devices, blkio,
 * cpuset, named ones like name=systemd, the cgroup2 "unified" tree). A sandbox is placed in
 * every one of them before it unshares its cgroup namespace: a hierarchy it was not placed in
 * would root its namespace at the server's cgroup there, and mounting that hierarchy inside
 * would show the host's cgroup tree (names, release_agent).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MountEntry } from '../host/mountinfo.js';

function hierarchyKey(m: MountEntry): string {
  if (m.fsType === 'cgroup2') return 'cgroup2';
  return m.superOptions
    .filter((o) => o !== 'rw' && o !== 'ro')
    .sort()
    .join(',');
}

/** One mount point per hierarchy not among `known` (mount points of the limited controllers). */
export function otherHierarchies(entries: MountEntry[], known: string[]): string[] {
  const cgroupMounts = entries.filter((m) => (m.fsType === 'cgroup' || m.fsType === 'cgroup2') && m.root === '/');
  const knownKeys = new Set(cgroupMounts.filter((m) => known.includes(m.mountPoint)).map(hierarchyKey));
  const chosen = new Map<string, string>();
  for (const m of cgroupMounts) {
    const key = hierarchyKey(m);
    if (knownKeys.has(key)) continue;
    const current = chosen.get(key);
    if (!current || m.mountPoint.length < current.length) chosen.set(key, m.mountPoint);
  }
  return [...chosen.values()].sort();
}

/**
 * A new cpuset cgroup starts with no cpus and no memory nodes, and nothing can join it until
 * both are set: copy them down from the parent, top first.
 */
export function inheritCpuset(dirs: string[]): void {
  for (const dir of dirs) {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const path = join(dir, file);
      if (!existsSync(path) || readFileSync(path, 'utf8').trim() !== '') continue;
      writeFileSync(path, readFileSync(join(dirname(dir), file), 'utf8').trim());
    }
  }
}
