/**
 * Making and unmaking the host side of one VM: its uid, cgroup, private directory, qcow2
 * overlay and QEMU process, and the bookkeeping of which snapshot it maps. Every VM the engine
 * runs (template builders, sandboxes, fork materializers) goes through here, so teardown is
 * one function and nothing is left behind.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupManager, SandboxCgroup } from '../../cgroups/cgroup.js';
import type { ResourceLimits } from '../../engine.js';
import type { BootAssets } from './assets.js';
import { machineSpec } from './assets.js';
import { createOverlay, createScratch } from './disks.js';
import type { IdAllocator } from './ids.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';
import { tracer } from './trace.js';
import { Vm } from './vm.js';

const MiB = 1024 * 1024;
/** Host memory a VM may use beyond its guest RAM: QEMU itself and the TCG code cache. */
export const QEMU_OVERHEAD_BYTES = 320 * MiB;
/** QEMU's threads: vCPUs, I/O workers, RCU, migration. */
const QEMU_TASKS = 256;

export interface VmHandle {
  readonly key: string;
  readonly vm: Vm;
  readonly uid: number;
  readonly cgroup: SandboxCgroup;
  readonly dir: string;
  readonly disk: string;
  /** The snapshot whose RAM this VM maps privately (none for a share=on VM). */
  readonly snapshot: Snapshot | undefined;
  alive(): boolean;
}

export interface FactoryDeps {
  stateDir: string;
  assets: () => BootAssets;
  ids: IdAllocator;
  cgroups: CgroupManager;
  snapshots: SnapshotStore;
  guestPath: string;
}

/** cgroup limits for the QEMU process of a VM with these sandbox limits. */
export function hostLimits(limits: ResourceLimits, memMiB: number): ResourceLimits {
  return { memoryBytes: memMiB * MiB + QEMU_OVERHEAD_BYTES, pids: QEMU_TASKS, cpus: limits.cpus };
}

export class VmFactory {
  readonly vmsDir: string;
  readonly logsDir: string;

  constructor(private readonly deps: FactoryDeps) {
    this.vmsDir = join(deps.stateDir, 'microvm', 'vms');
    this.logsDir = join(deps.stateDir, 'logs');
    mkdirSync(this.vmsDir, { recursive: true, mode: 0o711 });
    chmodSync(this.vmsDir, 0o711);
    mkdirSync(this.logsDir, { recursive: true, mode: 0o700 });
  }

  private async prepare(limits: ResourceLimits, memMiB: number) {
    const key = `vm-${randomBytes(6).toString('hex')}`;
    const uid = this.deps.ids.take();
    const dir = join(this.vmsDir, key);
    let cgroup: SandboxCgroup | undefined;
    try {
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, uid, uid);
      cgroup = await this.deps.cgroups.create(key, hostLimits(limits, memMiB));
      return { key, uid, dir, cgroup };
    } catch (err) {
      await cgroup?.destroy().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      this.deps.ids.release(uid);
      throw err;
    }
  }

  private start(
    p: { key: string; uid: number; dir: string; cgroup: SandboxCgroup },
    o: {
      ramFile: string;
      shareRam: boolean;
      disk: string;
      incoming: boolean;
      groups: number[];
      memMiB: number;
      vcpus: number;
    },
    snapshot: Snapshot | undefined,
  ): VmHandle {
    const vm = Vm.start({
      name: `mitos-${p.key}`,
      machine: machineSpec(this.deps.assets(), o.memMiB, o.vcpus),
      ramFile: o.ramFile,
      shareRam: o.shareRam,
      disk: o.disk,
      incoming: o.incoming,
      startPaused: o.incoming,
      confinement: { uid: p.uid, gid: p.uid, groups: o.groups, cgroupProcs: p.cgroup.procsFiles },
      consoleLog: join(this.logsDir, `${p.key}.console.log`),
      fdHelper: this.deps.guestPath,
    });
    if (snapshot) this.deps.snapshots.addUser(snapshot, p.key);
    return { ...p, vm, disk: o.disk, snapshot, alive: () => !vm.proc.hasExited() };
  }

  /** A VM that boots from scratch with its RAM written straight into `snap`'s file. */
  async booting(snap: Snapshot, limits: ResourceLimits, baseDisk: string): Promise<VmHandle> {
    const p = await this.prepare(limits, snap.memMiB);
    try {
      // The builder writes the snapshot's own disk layer; it is sealed read-only afterwards.
      await createOverlay(snap.disk, baseDisk, 'raw', 0, snap.gid);
      chmodSync(snap.disk, 0o660);
      const h = this.start(
        p,
        {
          ramFile: snap.ramFile,
          shareRam: true,
          disk: snap.disk,
          incoming: false,
          groups: [snap.gid],
          memMiB: snap.memMiB,
          vcpus: snap.vcpus,
        },
        undefined,
      );
      await h.vm.ready();
      return h;
    } catch (err) {
      await this.unmake(p);
      throw err;
    }
  }

  /** A stopped `-incoming defer` process that maps `snap` copy-on-write, on a fresh overlay. */
  async restoreTarget(snap: Snapshot, limits: ResourceLimits): Promise<VmHandle> {
    const trace = tracer('target');
    const p = await this.prepare(limits, snap.memMiB);
    trace('uid, dir, cgroup');
    let h: VmHandle | undefined;
    try {
      const disk = join(p.dir, 'disk.qcow2');
      await createOverlay(disk, snap.disk, 'qcow2', p.uid, p.uid);
      trace('overlay');
      h = this.start(
        p,
        {
          ramFile: snap.ramFile,
          shareRam: false,
          disk,
          incoming: true,
          groups: snap.groups,
          memMiB: snap.memMiB,
          vcpus: snap.vcpus,
        },
        snap,
      );
      await h.vm.ready();
      trace('qemu ready');
      return h;
    } catch (err) {
      if (h) await this.destroy(h);
      else await this.unmake(p);
      throw err;
    }
  }

  /**
   * A process that only receives a whole VM into `snap`'s RAM file (share=on) and saves its
   * devices: it never runs guest code, so its disk is a blank scratch image.
   */
  async materializer(snap: Snapshot, limits: ResourceLimits): Promise<VmHandle> {
    const p = await this.prepare(limits, snap.memMiB);
    let h: VmHandle | undefined;
    try {
      const disk = join(p.dir, 'scratch.qcow2');
      await createScratch(disk, 4 * 1024 ** 3, p.uid, p.uid);
      h = this.start(
        p,
        {
          ramFile: snap.ramFile,
          shareRam: true,
          disk,
          incoming: true,
          groups: [snap.gid],
          memMiB: snap.memMiB,
          vcpus: snap.vcpus,
        },
        undefined,
      );
      await h.vm.ready();
      return h;
    } catch (err) {
      if (h) await this.destroy(h);
      else await this.unmake(p);
      throw err;
    }
  }

  private async unmake(p: { key: string; uid: number; dir: string; cgroup: SandboxCgroup }): Promise<void> {
    await p.cgroup.destroy().catch(() => {});
    rmSync(p.dir, { recursive: true, force: true });
    rmSync(join(this.logsDir, `${p.key}.console.log`), { force: true });
    this.deps.ids.release(p.uid);
  }

  /** Kill the process and remove everything of this VM; its snapshot may then be collected. */
  async destroy(h: VmHandle, opts: { keepDisk?: boolean } = {}): Promise<void> {
    await h.vm.kill();
    await h.cgroup.destroy().catch(() => {});
    if (!opts.keepDisk) rmSync(h.dir, { recursive: true, force: true });
    rmSync(join(this.logsDir, `${h.key}.console.log`), { force: true });
    this.deps.ids.release(h.uid);
    if (h.snapshot) this.deps.snapshots.removeUser(h.snapshot, h.key);
  }

  /** Remove the directory of a destroyed VM whose disk was kept (moved into a snapshot). */
  removeDir(h: VmHandle): void {
    rmSync(h.dir, { recursive: true, force: true });
  }
}
