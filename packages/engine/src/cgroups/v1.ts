/**
 * cgroup v1: one hierarchy per controller (this host mounts memory, pids, cpu, cpuacct and
 * freezer separately; others co-mount cpu,cpuacct). A sandbox is `<mount>/<parent>/<id>` in
 * each distinct hierarchy, and its init's pid is written into every one of them.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MitosError } from '@mitos/protocol';
import type { ResourceLimits } from '../engine.js';
import { type MountEntry, readMountinfo } from '../host/mountinfo.js';
import { ownProcsFile } from './attach-prime.js';
import type { CgroupManager, SandboxCgroup } from './cgroup.js';
import { checkCgroupName, killAll, pollUntil, readControl, readPids, removeCgroupDir, writeControl } from './files.js';
import { inheritCpuset } from './hierarchies.js';
import { CPU_PERIOD_US, checkLimits, cpuQuota } from './limits.js';

export const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
/** Without these a sandbox cannot be limited or paused; cpuacct only feeds usage numbers. */
export const V1_REQUIRED: readonly V1Controller[] = ['memory', 'pids', 'cpu', 'freezer'];

export type V1Mounts = Partial<Record<V1Controller, string>>;

/** Where each controller's hierarchy is mounted (its root, not a bind of a sub-cgroup). */
export function findV1Mounts(entries: MountEntry[] = readMountinfo()): V1Mounts {
  const mounts: V1Mounts = {};
  for (const controller of V1_CONTROLLERS) {
    const found = entries
      .filter((m) => m.fsType === 'cgroup' && m.root === '/' && m.superOptions.includes(controller))
      .sort((a, b) => a.mountPoint.length - b.mountPoint.length)[0];
    if (found) mounts[controller] = found.mountPoint;
  }
  return mounts;
}

export interface CgroupV1Options {
  /** Parent directory name under each hierarchy; default `mitos`. */
  parent?: string;
  mounts?: V1Mounts;
  /** Mount points of the hierarchies a sandbox joins without limits (see cgroup-hierarchies). */
  others?: string[];
}

export class CgroupV1Manager implements CgroupManager {
  readonly version = 'v1' as const;
  readonly parent: string;
  private readonly mounts: V1Mounts;
  private readonly others: string[];
  readonly primeFile: string | undefined;

  constructor(options: CgroupV1Options = {}) {
    this.parent = checkCgroupName(options.parent ?? 'mitos');
    this.mounts = options.mounts ?? findV1Mounts();
    this.others = options.others ?? [];
    const missing = V1_REQUIRED.filter((c) => !this.mounts[c]);
    if (missing.length > 0)
      throw new MitosError('host_unsupported', `cgroup v1 controllers not mounted: ${missing.join(', ')}`);
    // The memory hierarchy: the first a launcher writes the sandbox's init into.
    this.primeFile = ownProcsFile(this.mounts.memory as string, 'memory');
  }

  /** `<mount>/<parent>` of every distinct hierarchy. */
  parentDirs(): string[] {
    return [...new Set([...Object.values(this.mounts), ...this.others])].map((m) => join(m, this.parent));
  }

  private otherDirsOf(sandboxId: string): string[] {
    return this.others.map((m) => join(m, this.parent, checkCgroupName(sandboxId)));
  }

  private dirsOf(sandboxId: string): Map<V1Controller, string> {
    const id = checkCgroupName(sandboxId);
    const dirs = new Map<V1Controller, string>();
    for (const c of V1_CONTROLLERS) {
      const mount = this.mounts[c];
      if (mount) dirs.set(c, join(mount, this.parent, id));
    }
    return dirs;
  }

  async create(sandboxId: string, limits: ResourceLimits): Promise<SandboxCgroup> {
    checkLimits(limits);
    const dirs = this.dirsOf(sandboxId);
    const others = this.otherDirsOf(sandboxId);
    for (const dir of new Set([...dirs.values(), ...others])) mkdirSync(dir, { recursive: true });
    inheritCpuset(others.flatMap((d) => [dirname(d), d]));
    const cgroup = new SandboxCgroupV1(sandboxId, dirs, others);
    await cgroup.setLimits(limits);
    return cgroup;
  }

  open(sandboxId: string): SandboxCgroup | undefined {
    const dirs = this.dirsOf(sandboxId);
    // Present in any hierarchy counts: a create that died halfway must still be reapable.
    const others = this.otherDirsOf(sandboxId);
    return [...dirs.values(), ...others].some((d) => existsSync(d))
      ? new SandboxCgroupV1(sandboxId, dirs, others)
      : undefined;
  }

  list(): string[] {
    const ids = new Set<string>();
    for (const dir of this.parentDirs()) {
      try {
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) ids.add(e.name);
      } catch {
        // No parent in this hierarchy yet.
      }
    }
    return [...ids].sort();
  }
}

class SandboxCgroupV1 implements SandboxCgroup {
  readonly procsFiles: string[];
  private readonly unique: string[];

  constructor(
    readonly sandboxId: string,
    private readonly dirs: Map<V1Controller, string>,
    others: string[] = [],
  ) {
    this.unique = [...new Set([...dirs.values(), ...others])];
    this.procsFiles = this.unique.map((d) => join(d, 'cgroup.procs'));
  }

  private file(controller: V1Controller, name: string): string {
    const dir = this.dirs.get(controller);
    if (!dir) throw new MitosError('host_unsupported', `cgroup v1 controller ${controller} is not mounted`);
    return join(dir, name);
  }

  async setLimits(limits: ResourceLimits): Promise<void> {
    checkLimits(limits);
    const bytes = String(limits.memoryBytes);
    const memsw = this.file('memory', 'memory.memsw.limit_in_bytes');
    // memsw (memory+swap) must stay >= the memory limit at every step, so the order of the two
    // writes depends on whether the limit goes down or up. Equal values mean no swap at all.
    if (existsSync(memsw)) {
      try {
        writeControl(this.file('memory', 'memory.limit_in_bytes'), bytes);
        writeControl(memsw, bytes);
      } catch {
        writeControl(memsw, bytes);
        writeControl(this.file('memory', 'memory.limit_in_bytes'), bytes);
      }
    } else {
      writeControl(this.file('memory', 'memory.limit_in_bytes'), bytes);
    }
    writeControl(this.file('pids', 'pids.max'), String(limits.pids));
    writeControl(this.file('cpu', 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    writeControl(this.file('cpu', 'cpu.cfs_quota_us'), String(cpuQuota(limits.cpus)));
  }

  private async setFreezer(state: 'FROZEN' | 'THAWED'): Promise<void> {
    const file = this.file('freezer', 'freezer.state');
    writeControl(file, state);
    // The write returns while tasks are still FREEZING; a snapshot taken then is not consistent.
    if (!(await pollUntil(() => readControl(file) === state, 5_000))) {
      if (state === 'FROZEN') writeControl(file, 'THAWED');
      throw new MitosError('internal', `cgroup ${this.sandboxId} did not reach ${state} within 5 s`);
    }
  }

  freeze(): Promise<void> {
    return this.setFreezer('FROZEN');
  }

  thaw(): Promise<void> {
    return this.setFreezer('THAWED');
  }

  async pids(): Promise<number[]> {
    return readPids(this.procsFiles);
  }

  async destroy(): Promise<void> {
    const deadline = performance.now() + 5_000;
    while (this.unique.some((d) => existsSync(d))) {
      const pids = readPids(this.procsFiles);
      if (pids.length > 0) {
        // Frozen first so nothing forks between reading the list and killing it; a frozen task
        // only acts on SIGKILL once thawed.
        await this.freeze().catch(() => {});
        killAll(readPids(this.procsFiles));
        await this.thaw().catch(() => {});
        await pollUntil(() => readPids(this.procsFiles).length === 0, 200);
      } else {
        try {
          for (const dir of this.unique) removeCgroupDir(dir);
        } catch (err) {
          // EBUSY: a task appeared or is still exiting; go round again.
          if (performance.now() > deadline)
            throw new MitosError('internal', `cannot remove cgroup ${this.sandboxId}: ${(err as Error).message}`);
        }
      }
      if (performance.now() > deadline) {
        throw new MitosError(
          'internal',
          `cgroup ${this.sandboxId} still has tasks after 5 s: ${readPids(this.procsFiles).join(' ')}`,
        );
      }
      if (this.unique.some((d) => existsSync(d))) await sleep(1);
    }
  }

  async memoryBytes(): Promise<number> {
    return Number(readControl(this.file('memory', 'memory.usage_in_bytes')));
  }

  async cpuUsageNs(): Promise<number> {
    const dir = this.dirs.get('cpuacct');
    return dir ? Number(readControl(join(dir, 'cpuacct.usage'))) : 0;
  }
}
