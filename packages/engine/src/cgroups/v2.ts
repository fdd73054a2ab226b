/**
 * cgroup v2: one unified hierarchy. Sandboxes are `<root>/<parent>/<id>`; the parent enables
 * the controllers for its children in cgroup.subtree_control and holds no tasks itself (v2's
 * "no internal processes" rule).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MitosError } from '@mitos/protocol';
import type { ResourceLimits } from '../engine.js';
import { ownProcsFile } from './attach-prime.js';
import type { CgroupManager, SandboxCgroup } from './cgroup.js';
import { checkCgroupName, killAll, pollUntil, readControl, readPids, removeCgroupDir, writeControl } from './files.js';
import { CPU_PERIOD_US, checkLimits, cpuQuota } from './limits.js';

export const V2_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
export type V2Controller = (typeof V2_CONTROLLERS)[number];

export interface CgroupV2Options {
  /** The cgroup2 mount; default /sys/fs/cgroup. */
  root?: string;
  /** Parent directory name; default `mitos`. */
  parent?: string;
  /**
   * Controllers to enable and write limits for. detectCgroups() only builds a manager when all
   * three exist; tests on a host whose cgroup2 has none pass [] to exercise freeze and kill.
   */
  controllers?: readonly V2Controller[];
}

export class CgroupV2Manager implements CgroupManager {
  readonly version = 'v2' as const;
  readonly parent: string;
  private readonly root: string;
  private readonly controllers: readonly V2Controller[];
  private parentReady = false;
  readonly primeFile: string | undefined;

  constructor(options: CgroupV2Options = {}) {
    this.root = options.root ?? '/sys/fs/cgroup';
    this.primeFile = ownProcsFile(this.root, undefined);
    this.parent = checkCgroupName(options.parent ?? 'mitos');
    this.controllers = options.controllers ?? V2_CONTROLLERS;
  }

  parentDirs(): string[] {
    return [join(this.root, this.parent)];
  }

  private ensureParent(): void {
    if (this.parentReady) return;
    const parentDir = join(this.root, this.parent);
    mkdirSync(parentDir, { recursive: true });
    if (this.controllers.length > 0) {
      const enable = this.controllers.map((c) => `+${c}`).join(' ');
      // Controllers reach a child only if every ancestor enables them for its subtree.
      try {
        writeControl(join(this.root, 'cgroup.subtree_control'), enable);
      } catch (err) {
        throw new MitosError(
          'host_unsupported',
          `cannot enable ${enable} in ${this.root}: ${(err as MitosError).detail ?? err}. If the server runs inside a cgroup namespace, move it to a leaf cgroup (systemd: Delegate=yes) first`,
        );
      }
      writeControl(join(parentDir, 'cgroup.subtree_control'), enable);
    }
    this.parentReady = true;
  }

  async create(sandboxId: string, limits: ResourceLimits): Promise<SandboxCgroup> {
    checkLimits(limits);
    this.ensureParent();
    const dir = join(this.root, this.parent, checkCgroupName(sandboxId));
    mkdirSync(dir, { recursive: true });
    const cgroup = new SandboxCgroupV2(sandboxId, dir, this.controllers);
    await cgroup.setLimits(limits);
    return cgroup;
  }

  open(sandboxId: string): SandboxCgroup | undefined {
    const dir = join(this.root, this.parent, checkCgroupName(sandboxId));
    return existsSync(dir) ? new SandboxCgroupV2(sandboxId, dir, this.controllers) : undefined;
  }

  list(): string[] {
    try {
      return readdirSync(join(this.root, this.parent), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return [];
    }
  }
}

class SandboxCgroupV2 implements SandboxCgroup {
  readonly procsFiles: string[];

  constructor(
    readonly sandboxId: string,
    private readonly dir: string,
    private readonly controllers: readonly V2Controller[],
  ) {
    this.procsFiles = [join(dir, 'cgroup.procs')];
  }

  async setLimits(limits: ResourceLimits): Promise<void> {
    checkLimits(limits);
    if (this.controllers.includes('memory')) {
      writeControl(join(this.dir, 'memory.max'), String(limits.memoryBytes));
      // No swap: a sandbox over its limit is OOM-killed instead of thrashing the host's swap.
      const swap = join(this.dir, 'memory.swap.max');
      if (existsSync(swap)) writeControl(swap, '0');
    }
    if (this.controllers.includes('pids')) writeControl(join(this.dir, 'pids.max'), String(limits.pids));
    if (this.controllers.includes('cpu'))
      writeControl(join(this.dir, 'cpu.max'), `${cpuQuota(limits.cpus)} ${CPU_PERIOD_US}`);
  }

  private isFrozen(): boolean {
    return /^frozen 1$/m.test(readControl(join(this.dir, 'cgroup.events')));
  }

  async freeze(): Promise<void> {
    writeControl(join(this.dir, 'cgroup.freeze'), '1');
    if (!(await pollUntil(() => this.isFrozen(), 5_000))) {
      writeControl(join(this.dir, 'cgroup.freeze'), '0');
      throw new MitosError('internal', `cgroup ${this.sandboxId} did not freeze within 5 s`);
    }
  }

  async thaw(): Promise<void> {
    writeControl(join(this.dir, 'cgroup.freeze'), '0');
    await pollUntil(() => !this.isFrozen(), 5_000);
  }

  async pids(): Promise<number[]> {
    return readPids(this.procsFiles);
  }

  async destroy(): Promise<void> {
    const deadline = performance.now() + 5_000;
    const killFile = join(this.dir, 'cgroup.kill');
    while (existsSync(this.dir)) {
      if (readPids(this.procsFiles).length > 0) {
        if (existsSync(killFile)) {
          // Linux >= 5.14: the kernel kills the whole subtree atomically, forks included.
          writeControl(killFile, '1');
        } else {
          await this.freeze().catch(() => {});
          killAll(readPids(this.procsFiles));
          await this.thaw().catch(() => {});
        }
        await pollUntil(() => readPids(this.procsFiles).length === 0, 200);
      } else {
        try {
          removeCgroupDir(this.dir);
        } catch (err) {
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
      if (existsSync(this.dir)) await sleep(1);
    }
  }

  async memoryBytes(): Promise<number> {
    return this.controllers.includes('memory') ? Number(readControl(join(this.dir, 'memory.current'))) : 0;
  }

  async cpuUsageNs(): Promise<number> {
    // cpu.stat's usage_usec is kept by the core even without the cpu controller.
    const m = /^usage_usec (\d+)$/m.exec(readControl(join(this.dir, 'cpu.stat')));
    return m ? Number(m[1]) * 1000 : 0;
  }
}
