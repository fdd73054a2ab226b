/**
 * The microvm driver: each sandbox is a QEMU microVM (KVM where usable, TCG otherwise)
 * restored copy-on-write from a snapshot of its template, with the agent reached over one
 * virtio-serial port behind a per-sandbox unix socket (proxy.ts). Fork snapshots a running VM
 * and restores the parent and every child from that frozen snapshot (fork.ts). README.md in
 * this directory has the whole design.
 *
 * VMs do not survive an engine restart (their host channels are inherited socketpairs).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { MuxSession } from '../../agent/mux.js';
import type { CgroupManager } from '../../cgroups/cgroup.js';
import type { Admission, DriverEvents, Launched, SandboxDriver } from '../../core/driver.js';
import type { ResourceLimits, SandboxUsage } from '../../engine.js';
import { processMemory } from '../../host/memory.js';
import { processStartTicks } from '../../host/proc.js';
import type { SandboxRow, TemplateRow } from '../../state/store.js';
import type { ImageSpec } from '../../templates/images.js';
import { type AcceleratorChoice, detectAccelerator } from './accel.js';
import { allocatedBytes } from './disks.js';
import { type ForkTimings, forkVm, type LiveVm } from './fork.js';
import type { IdAllocator } from './ids.js';
import { defaultCodeKernelsDir } from './paths.js';
import type { RestorePool } from './pool.js';
import { ChannelProxy } from './proxy.js';
import { newIdentity, restoreInto } from './restore.js';
import { type Snapshot, SnapshotStore, shmDirFor } from './snapshots.js';
import { TemplateCatalog } from './templates.js';
import { tracer } from './trace.js';
import { hostLimits, VmFactory, type VmHandle } from './vm-factory.js';
import { handOut, type WarmVm, warmVmPool } from './warm-vm.js';

export interface MicroVmDriverOptions {
  stateDir: string;
  cacheDir: string;
  uidBase: number;
  guestPath: string;
  mirror?: string;
  /** Warm VMs kept per template snapshot (warm-vm.ts; default 1; 0 disables). */
  poolSize?: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** Per-sandbox state that lives only in this process. */
interface Live extends LiveVm {
  id: string;
  proxy: ChannelProxy;
}

export class MicroVmDriver implements SandboxDriver {
  readonly name = 'microvm';
  readonly survivesRestart = false;
  readonly forkCarriesProcesses = true;
  /** A VM is always stopped while its memory is snapshotted. */
  readonly forksRunningParent = false;
  /** Phases of the last fork (benchmarks). */
  lastForkTimings: ForkTimings | undefined;
  private readonly live = new Map<string, Live>();
  private readonly forking = new Map<string, Promise<unknown>>();
  private readonly catalog: TemplateCatalog;
  private readonly pool: RestorePool<WarmVm>;
  private readonly factory: VmFactory;
  private readonly snapshots: SnapshotStore;

  constructor(
    private readonly opts: MicroVmDriverOptions,
    cgroups: CgroupManager,
    ids: IdAllocator,
    private readonly events: DriverEvents,
  ) {
    this.snapshots = new SnapshotStore(opts.stateDir, shmDirFor(opts.stateDir), ids);
    this.catalog = new TemplateCatalog({
      assets: {
        cacheDir: opts.cacheDir,
        uidBase: opts.uidBase,
        guestPath: opts.guestPath,
        codeKernelsDir: defaultCodeKernelsDir(),
        mirror: opts.mirror,
      },
      stateDir: opts.stateDir,
      factory: () => this.factory,
      snapshots: this.snapshots,
      onSnapshot: (snap) => this.pool.refill(snap.id),
      log: (msg, fields) => opts.log('info', msg, fields),
    });
    this.factory = new VmFactory({
      stateDir: opts.stateDir,
      assets: () => {
        if (!this.catalog.ready) throw new Error('boot assets are not prepared');
        return this.catalog.ready;
      },
      ids,
      cgroups,
      snapshots: this.snapshots,
      guestPath: opts.guestPath,
    });
    this.pool = warmVmPool(opts.poolSize ?? 1, {
      factory: this.factory,
      snapshots: this.snapshots,
      limitsOf: (snapId) => this.catalog.limitsOf(snapId) as ResourceLimits,
      runDir: join(opts.stateDir, 'run'),
      onError: (err) => opts.log('warn', 'restore pool refill failed', { error: err.message }),
    });
  }

  /** KVM or TCG and why (known once the guest kernel is cached; a host-only guess before). */
  get accelerator(): AcceleratorChoice {
    return this.catalog.ready?.accel ?? detectAccelerator();
  }

  socketPath(id: string): string {
    return join(this.opts.stateDir, 'run', `${id}.sock`);
  }

  async prepareTemplate(templateId: string, image: ImageSpec, onProgress: (line: string) => void): Promise<string> {
    await this.catalog.assets(onProgress);
    const disk = await this.catalog.rootDisk(templateId, onProgress);
    await this.catalog.snapshot(templateId, image.limits, onProgress);
    return disk.key;
  }

  admit(what: Admission, limits?: ResourceLimits): void {
    if (what === 'create' && (limits?.diskBytes ?? 0) > 0) {
      throw new MitosError(
        'host_unsupported',
        'the microvm engine cannot limit disk use per sandbox yet',
        {},
        { remediation: 'create the sandbox without diskBytes (a VM disk is a fixed 4 GiB filesystem)' },
      );
    }
  }

  async launch(row: SandboxRow, template: TemplateRow): Promise<Launched> {
    let handle: VmHandle | undefined;
    let session: MuxSession | undefined;
    const trace = tracer('create');
    const identity = newIdentity(row.hostname, row.limits.pids);
    try {
      const snap = await this.catalog.snapshot(template.id, row.limits);
      const warm = this.pool.take(snap.id);
      if (warm) {
        ({ handle, session } = warm);
        await handOut(warm, identity, hostLimits(row.limits, snap.memMiB));
        trace('warm VM handed out');
      } else {
        handle = await this.factory.restoreTarget(snap, row.limits);
        trace('target spawned');
        session = new MuxSession();
        await restoreInto(handle, snap, session, { mode: 'reset', ...identity });
        trace('restored and resumed');
      }
      await this.adopt(row.id, handle, session, row.limits);
      return launchedOf(handle);
    } catch (err) {
      if (handle && !this.live.has(row.id)) {
        session?.close();
        await this.factory.destroy(handle).catch(() => {});
      }
      throw asMitosError(err, 'cannot create the VM', row.id);
    }
  }

  /** Register a running VM as sandbox `id`: its proxy socket, crash watch. */
  private async adopt(id: string, handle: VmHandle, session: MuxSession, limits: ResourceLimits): Promise<void> {
    const proxy = await ChannelProxy.listen(this.socketPath(id), session);
    const live: Live = { id, handle, session, proxy, limits, hostname: id };
    this.live.set(id, live);
    this.watch(live);
  }

  /** A VM that dies on its own (OOM kill, crash) takes its sandbox with it. */
  private watch(live: Live): void {
    const handle = live.handle;
    void handle.vm.proc.exited.then(() => {
      if (this.live.get(live.id)?.handle !== handle || live.replacing) return;
      this.events.lost(live.id, `its VM exited unexpectedly: ${handle.vm.proc.diagnostics()}`);
    });
  }

  /** One fork of a sandbox at a time: each fences, stops and replaces the parent's process. */
  fork(parent: SandboxRow, children: SandboxRow[]): Promise<Launched[]> {
    const prev = this.forking.get(parent.id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.forkNow(parent, children));
    const tail = next.catch(() => {});
    this.forking.set(parent.id, tail);
    void tail.then(() => {
      if (this.forking.get(parent.id) === tail) this.forking.delete(parent.id);
    });
    return next;
  }

  private async forkNow(parent: SandboxRow, children: SandboxRow[]): Promise<Launched[]> {
    const pending: VmHandle[] = [];
    try {
      const live = this.liveOf(parent.id);
      const ids = children.map((c) => c.id);
      const result = await forkVm(this.factory, this.snapshots, live, ids, {
        onParentReplaced: (handle) => {
          this.watch(live);
          this.events.relaunched(parent.id, launchedOf(handle));
        },
        onParentLost: (err) => this.events.lost(parent.id, `its VM was not restored after a fork: ${err.message}`),
      });
      this.lastForkTimings = result.timings;
      pending.push(...result.children.map((c) => c.handle));
      return await Promise.all(
        result.children.map(async ({ id, handle, session }) => {
          await this.adopt(id, handle, session, parent.limits);
          pending.splice(pending.indexOf(handle), 1);
          return launchedOf(handle);
        }),
      );
    } catch (err) {
      for (const h of pending) await this.factory.destroy(h).catch(() => {});
      throw asMitosError(err, 'fork failed', parent.id);
    }
  }

  /** Stop the vCPUs (QMP stop): no guest CPU at all, memory and disk kept. */
  freeze({ id }: SandboxRow): Promise<void> {
    return this.liveOf(id).handle.vm.stop();
  }

  thaw({ id }: SandboxRow): Promise<void> {
    return this.liveOf(id).handle.vm.cont();
  }

  async teardown(row: SandboxRow): Promise<void> {
    const live = this.live.get(row.id);
    this.live.delete(row.id);
    if (live) {
      live.session.close();
      await live.proxy.close().catch(() => {});
      await this.factory
        .destroy(live.handle)
        .catch((e: Error) => this.opts.log('error', 'VM teardown', { sandbox: row.id, error: e.message }));
    }
    rmSync(this.socketPath(row.id), { force: true });
  }

  async usage(row: SandboxRow): Promise<Omit<SandboxUsage, 'sandboxId' | 'egressBytes'>> {
    const { handle } = this.liveOf(row.id);
    let shared = 0;
    for (let s: Snapshot | undefined = handle.snapshot; s; s = s.parent) shared += allocatedBytes(s.disk);
    return {
      memory: { ...processMemory([handle.vm.pid]), cgroupBytes: await handle.cgroup.memoryBytes() },
      disk: { exclusiveBytes: allocatedBytes(handle.disk), sharedBytes: shared },
      cpuNs: await handle.cgroup.cpuUsageNs(),
    };
  }

  /** Nothing to reattach: opening reaped whatever an earlier engine left (leftovers.ts). */
  async reattach(): Promise<boolean> {
    return false;
  }

  async reapOrphans(): Promise<void> {}

  async close(): Promise<void> {
    await this.pool.close();
    await this.catalog.settle();
    this.snapshots.destroyAll();
  }

  /** Boot a throwaway VM of a template from its disk (no snapshot) and time it to the agent's hello. */
  coldBootMs(template: TemplateRow): Promise<number> {
    return this.catalog.coldBootMs(template.id, template.limits);
  }

  /** Host pids of the VMs waiting in the pool, ready to hand out. */
  pooledVmPids(): number[] {
    return this.pool.waiting().map((w) => w.handle.vm.pid);
  }

  /** Host pid of a sandbox's QEMU (benchmarks read its smaps). */
  vmPid(id: string): number | undefined {
    return this.live.get(id)?.handle.vm.pid;
  }

  private liveOf(id: string): Live {
    const l = this.live.get(id);
    if (!l) throw new MitosError('sandbox_not_running', `sandbox "${id}" has no running VM`, { sandbox: id });
    return l;
  }
}

function launchedOf(handle: VmHandle): Launched {
  return { initPid: handle.vm.pid, initStartTicks: processStartTicks(handle.vm.pid) ?? '', supervisorPid: null };
}

function asMitosError(err: unknown, what: string, sandbox: string): MitosError {
  if (err instanceof MitosError) return err;
  return new MitosError('internal', `${what}: ${(err as Error).message}`, { sandbox }, { cause: err });
}
