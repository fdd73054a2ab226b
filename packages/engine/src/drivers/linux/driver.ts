/**
 * The Linux namespaces driver: each sandbox is a set of fresh namespaces (user, pid, mount, uts,
 * ipc, net, cgroup) around a copy-on-write root, with cgroup limits, whose pid 1 is our static
 * agent (launcher.ts). Sandboxes outlive the engine process: their init is supervised apart
 * and a later engine reattaches them.
 */
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DENY_POSTURE, MitosError } from '@mitos/protocol';
import { whilePrimed } from '../../cgroups/attach-prime.js';
import type { CgroupManager, SandboxCgroup } from '../../cgroups/cgroup.js';
import type { Restorer } from '../../checkpoint/restore.js';
import type { Admission, DriverImages, DriverNetwork, Launched, SandboxDriver } from '../../core/driver.js';
import type { ResourceLimits, SandboxUsage } from '../../engine.js';
import { processMemory } from '../../host/memory.js';
import { isSameProcess } from '../../host/proc.js';
import { assertHeadroom } from '../../host/space.js';
import type { Spawner } from '../../host/spawner.js';
import type { UidRanges } from '../../host/uid-ranges.js';
import type { HostNetwork } from '../../network/host-network.js';
import { writeResolvConf } from '../../network/resolv-conf.js';
import type { SandboxRow, TemplateRow } from '../../state/store.js';
import type { RootLayout, SandboxStorage } from '../../storage/storage.js';
import { buildImage } from '../../templates/builder.js';
import { type BuiltImageCache, ImageCache } from '../../templates/image-archive.js';
import { type ImageSpec, imageKey } from '../../templates/images.js';
import { type CarriedForkContext, forkCarryingProcesses } from './carried-fork.js';
import { checkDiskLimit } from './disk-limit.js';
import { ForkSlots, removeSlotDebris } from './fork-slots.js';
import { linuxDriverImages } from './images.js';
import { childCgroup, snapshotChildren } from './snapshot-children.js';
import { startSandbox } from './start-sandbox.js';

export interface LinuxDriverOptions {
  stateDir: string;
  cacheDir: string;
  uidBase: number;
  agentPath: string;
  /** installInitProgram's copy of the agent, exec'd as each sandbox's pid 1. */
  initPath: string;
  /** Starts the launchers (host/spawner.ts); the driver's close() ends it. */
  spawner: Spawner;
  mirror?: string;
  /** Templates whose sandboxes run without the default seccomp filter (each launch is logged). */
  seccompOptOut?: string[];
  /** Fork slots kept ready (fork-slots.ts); 0 or absent: none. */
  forkSlots?: number;
  log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
}

const ADMISSION_PURPOSE: Record<Admission, string> = {
  create: 'create a sandbox',
  fork: 'fork a sandbox',
  write: 'write a file',
};

export class LinuxDriver implements SandboxDriver {
  readonly name = 'linux';
  readonly survivesRestart = true;
  readonly forkCarriesProcesses = false;
  readonly carriesProcessesOnRequest = true;
  readonly forksRunningParent = true;
  readonly rename?: (pooled: SandboxRow, id: string, limits: ResourceLimits) => Promise<void>;
  readonly images?: DriverImages;
  readonly network: DriverNetwork;
  readonly imageCache: BuiltImageCache;
  private readonly cgroupHandles = new Map<string, SandboxCgroup>();
  private readonly imageBuilds = new Map<string, Promise<void>>();
  private readonly slots: ForkSlots | undefined;

  constructor(
    private readonly opts: LinuxDriverOptions,
    readonly storage: SandboxStorage,
    readonly cgroups: CgroupManager,
    private readonly uidRanges: UidRanges,
    readonly hostNetwork: HostNetwork,
  ) {
    this.network = hostNetwork.driverPort();
    // The warm pool renames a launched sandbox, which needs storage that can rename a root.
    if (typeof storage.renameRoot === 'function') this.rename = (p, id, limits) => this.renamePooled(p, id, limits);
    this.images = linuxDriverImages(storage, hostNetwork);
    this.imageCache = new ImageCache(opts.cacheDir, opts.uidBase);
    const size = opts.forkSlots ?? 0;
    if (size > 0) this.slots = new ForkSlots({ ...opts, size, cgroups, uidRanges });
  }

  /** A fork slot set aside for one child of a fork (fork-slots.ts): the child's cgroup key. */
  claimForkSlot(): string | undefined {
    return this.slots?.claim();
  }

  get forkSlotsReady(): number {
    return this.slots?.available ?? 0;
  }

  get diskUidBase(): number {
    return this.opts.uidBase;
  }

  socketPath(id: string): string {
    return join(this.opts.stateDir, 'run', `${id}.sock`);
  }

  private logPath(id: string): string {
    return join(this.opts.stateDir, 'logs', `${id}.log`);
  }

  async prepareTemplate(_templateId: string, image: ImageSpec, onProgress: (line: string) => void): Promise<string> {
    const key = imageKey(image, this.opts.uidBase);
    await this.ensureImage(image, key, onProgress);
    return key;
  }

  /** Build (or take from cache) and import an image; concurrent callers share one build. */
  private ensureImage(image: ImageSpec, key: string, onProgress: (line: string) => void): Promise<void> {
    if (this.storage.hasImage(key)) return Promise.resolve();
    let pending = this.imageBuilds.get(key);
    if (!pending) {
      pending = (async () => {
        const dir = await buildImage(image, {
          cacheDir: this.opts.cacheDir,
          uidBase: this.opts.uidBase,
          mirror: this.opts.mirror,
          onProgress: (line) => {
            onProgress(line);
            this.opts.log('info', 'template build', { image: image.name, line });
          },
        });
        await this.storage.importImage(key, dir);
      })().finally(() => this.imageBuilds.delete(key));
      this.imageBuilds.set(key, pending);
    }
    return pending;
  }

  admit(what: Admission, limits?: ResourceLimits): void {
    if (limits) checkDiskLimit(this.storage, limits);
    assertHeadroom(this.opts.stateDir, ADMISSION_PURPOSE[what]);
  }

  private async applyDiskLimit(id: string, limits: ResourceLimits): Promise<void> {
    if ((limits.diskBytes ?? 0) > 0) await this.storage.limitDisk?.(id, limits.diskBytes as number);
  }

  async launch(row: SandboxRow, template: TemplateRow): Promise<Launched> {
    const cgroup = await this.cgroups.create(row.cgroupKey, row.limits);
    this.cgroupHandles.set(row.id, cgroup);
    // A template that is not ready is being built: its steps' roots are published as images.
    const root = await this.storage.createRoot(row.id, template.imageKey, { wholeTree: !template.ready });
    await this.applyDiskLimit(row.id, row.limits);
    writeResolvConf(root, this.opts.uidBase, this.hostNetwork.resolverAddress());
    const launched = await this.start(row, root, cgroup);
    await this.hostNetwork.attach(row.id, launched.initPid, template.network);
    return launched;
  }

  private start(row: SandboxRow, root: RootLayout, cgroup: SandboxCgroup, restore?: Restorer): Promise<Launched> {
    const ctx = { ...this.opts, uidRanges: this.uidRanges, cgroups: this.cgroups, slots: this.slots };
    return startSandbox(
      { ...ctx, socketPath: this.socketPath(row.id), logPath: this.logPath(row.id) },
      row,
      root,
      cgroup,
      restore,
    );
  }

  /**
   * Give a pooled sandbox its user's id: rename its root, socket and log. Its cgroups keep
   * their name (the row's cgroup key): renaming them in every hierarchy, and moving its tasks
   * in cgroup2, which refuses renames, was most of a pooled create.
   */
  private async renamePooled(pooled: SandboxRow, id: string, limits: ResourceLimits): Promise<void> {
    this.storage.renameRoot?.(pooled.id, id);
    this.uidRanges.rename(pooled.id, id);
    this.hostNetwork.rename(pooled.id, id);
    const cgroup = this.cgroup(pooled);
    this.cgroupHandles.delete(pooled.id);
    this.cgroupHandles.set(id, cgroup);
    renameSync(this.socketPath(pooled.id), this.socketPath(id));
    renameSync(this.logPath(pooled.id), this.logPath(id));
    if (JSON.stringify(limits) !== JSON.stringify(pooled.limits)) await cgroup.setLimits(limits);
    await this.applyDiskLimit(id, limits);
  }

  async fork(parent: SandboxRow, children: SandboxRow[], pauseSource: boolean, processes = false): Promise<Launched[]> {
    if (processes) return forkCarryingProcesses(this.carriedFork(parent), parent, children);
    const { storage, cgroups, cgroupHandles: handles } = this;
    // The children's attaches then find the cgroup wait passed or under way (attach-prime.ts).
    return whilePrimed(cgroups.primeFile, async () => {
      const ctx = { storage, cgroups, handles, parentCgroup: this.cgroup(parent), slots: this.slots };
      const roots = await snapshotChildren(ctx, parent.id, children, pauseSource);
      return Promise.all(children.map((row, i) => this.launchChild(parent, row, roots[i] as RootLayout)));
    }).finally(() => this.slots?.fill());
  }

  private carriedFork(parent: SandboxRow): CarriedForkContext {
    return {
      ...this.opts,
      parentUidBase: this.uidRanges.baseOf(parent.id),
      snapshotRoots: (ids) => this.storage.snapshotRoots(parent.id, ids),
      launchChild: (row, root, restore) => this.launchChild(parent, row, root, restore),
    };
  }

  /** A fork child on its root: fresh, or restored (`restore`); its cgroup made unless made already. */
  private async launchChild(parent: SandboxRow, row: SandboxRow, root: RootLayout, restore?: Restorer) {
    await this.applyDiskLimit(row.id, row.limits);
    const cgroup = this.cgroupHandles.get(row.id) ?? (await childCgroup(this.cgroups, this.cgroupHandles, row));
    const launched = await this.start(row, root, cgroup, restore);
    // Each child gets its own link and address; the parent's connections stay the parent's.
    await this.hostNetwork.attach(row.id, launched.initPid, this.hostNetwork.posture(parent.id) ?? DENY_POSTURE);
    return launched;
  }

  freeze(row: SandboxRow): Promise<void> {
    return this.cgroup(row).freeze();
  }

  thaw(row: SandboxRow): Promise<void> {
    return this.cgroup(row).thaw();
  }

  async teardown(row: SandboxRow): Promise<void> {
    const id = row.id;
    if (row.initPid !== null && row.initStartTicks !== null && isSameProcess(row.initPid, row.initStartTicks)) {
      // SIGKILL to a pid namespace's init kills every process in the namespace.
      try {
        process.kill(row.initPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // A slot claimed for a child whose fork failed first: its launcher ends with it.
    await this.slots?.discard(row.cgroupKey);
    const cgroup = this.cgroupHandles.get(id) ?? this.cgroups.open(row.cgroupKey);
    await cgroup?.destroy();
    this.cgroupHandles.delete(id);
    await this.storage.removeRoot(id);
    // Processes gone (cgroup destroyed) and root removed: the range may serve another sandbox.
    this.uidRanges.release(id);
    await this.hostNetwork.detach(id);
    rmSync(this.socketPath(id), { force: true });
  }

  async usage(row: SandboxRow): Promise<Omit<SandboxUsage, 'sandboxId' | 'egressBytes'>> {
    const cgroup = this.cgroup(row);
    const pids = await cgroup.pids();
    if (row.supervisorPid) pids.push(row.supervisorPid);
    return {
      memory: { ...processMemory(pids), cgroupBytes: await cgroup.memoryBytes() },
      disk: (await this.storage.usage(row.id)) ?? null,
      cpuNs: await cgroup.cpuUsageNs(),
    };
  }

  async reattach(row: SandboxRow, ping: () => Promise<unknown>): Promise<boolean> {
    const alive =
      (row.state === 'running' || row.state === 'paused' || row.state === 'pooled') &&
      row.initPid !== null &&
      row.initStartTicks !== null &&
      isSameProcess(row.initPid, row.initStartTicks);
    if (!alive) return false;
    if (row.state === 'paused') return true; // frozen: it cannot answer a ping
    // A server killed while a fork had the parent frozen for its snapshot leaves it frozen:
    // the ping would then wait forever, and the server never start.
    await this.cgroups.open(row.cgroupKey)?.thaw();
    await ping();
    return true;
  }

  async reapOrphans(live: ReadonlySet<string>, liveCgroupKeys: ReadonlySet<string>): Promise<void> {
    // Only what this server's own database knows is touched: cgroups it does not know may
    // belong to another server on the host (the reaping before this removed its own).
    for (const id of this.storage.listRoots()) {
      if (!live.has(id)) await this.storage.removeRoot(id).catch(() => {});
    }
    this.uidRanges.reconcile(new Set(live));
    await this.hostNetwork.reconcile(live);
    await removeSlotDebris(this.cgroups, liveCgroupKeys);
    this.slots?.fill(); // after reconcile, which would free the new slots' uid ranges
  }

  async close(): Promise<void> {
    // Sandboxes keep running under their supervisors; the next engine reattaches them (and
    // answers their DNS again).
    await this.slots?.close();
    await this.hostNetwork.close();
    await this.opts.spawner.close();
  }

  private cgroup(row: SandboxRow): SandboxCgroup {
    const c = this.cgroupHandles.get(row.id) ?? this.cgroups.open(row.cgroupKey);
    if (!c) throw new MitosError('internal', `the cgroup of sandbox "${row.id}" is missing`, { sandbox: row.id });
    this.cgroupHandles.set(row.id, c);
    return c;
  }
}
