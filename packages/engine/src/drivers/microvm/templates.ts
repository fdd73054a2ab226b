/**
 * What the engine builds once and shares: the boot assets (kernel, initramfs, accelerator),
 * one root disk per template image, and one frozen snapshot per (image, memory, vCPUs). Every
 * getter is get-or-build, and concurrent callers share one build.
 */
import { join } from 'node:path';
import { MuxSession } from '../../agent/mux.js';
import type { ResourceLimits } from '../../engine.js';
import { resolveImage } from '../../templates/images.js';
import { type AssetOptions, type BootAssets, prepareBootAssets, prepareRootDisk } from './assets.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';
import { buildTemplateSnapshot } from './template-snapshot.js';
import type { VmFactory, VmHandle } from './vm-factory.js';

const MiB = 1024 * 1024;

export interface RootDisk {
  /** The template image key (also the disk's cache key). */
  key: string;
  path: string;
}

export interface CatalogDeps {
  assets: AssetOptions;
  stateDir: string;
  factory: () => VmFactory;
  snapshots: SnapshotStore;
  /** A template snapshot was just built (the engine fills its restore pool). */
  onSnapshot: (snap: Snapshot) => void;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

export function vcpusFor(cpus: number): number {
  return Math.max(1, Math.ceil(cpus));
}

export function memMiBFor(limits: ResourceLimits): number {
  return Math.max(128, Math.round(limits.memoryBytes / MiB));
}

export class TemplateCatalog {
  private assetsPromise: Promise<BootAssets> | undefined;
  private assetsReady: BootAssets | undefined;
  private readonly disks = new Map<string, Promise<RootDisk>>();
  private readonly snaps = new Map<string, Promise<Snapshot>>();
  private readonly limitsBySnapshot = new Map<string, ResourceLimits>();

  constructor(private readonly deps: CatalogDeps) {}

  /** Boot assets once prepared (the factory needs them synchronously when starting QEMU). */
  get ready(): BootAssets | undefined {
    return this.assetsReady;
  }

  assets(onProgress?: (line: string) => void): Promise<BootAssets> {
    this.assetsPromise ??= prepareBootAssets(this.deps.assets, (line) => {
      onProgress?.(line);
      this.deps.log('microvm assets', { line });
    }).then(
      (a) => {
        this.assetsReady = a;
        this.deps.log('microvm accelerator', { accel: a.accel.accel, reason: a.accel.reason });
        return a;
      },
      (err) => {
        this.assetsPromise = undefined;
        throw err;
      },
    );
    return this.assetsPromise;
  }

  rootDisk(templateId: string, onProgress: (line: string) => void = () => {}): Promise<RootDisk> {
    const image = resolveImage(templateId);
    let p = this.disks.get(image.name);
    if (!p) {
      p = prepareRootDisk(image, this.deps.assets, onProgress).then(
        ({ key, disk }) => ({ key, path: disk }),
        (err) => {
          this.disks.delete(image.name);
          throw err;
        },
      );
      this.disks.set(image.name, p);
    }
    return p;
  }

  /** The frozen snapshot sandboxes of this template and size restore from (built on first use). */
  snapshot(templateId: string, limits: ResourceLimits, onProgress?: (line: string) => void): Promise<Snapshot> {
    const memMiB = memMiBFor(limits);
    const vcpus = vcpusFor(limits.cpus);
    const image = resolveImage(templateId);
    const key = `${image.name}:${memMiB}:${vcpus}`;
    let p = this.snaps.get(key);
    if (!p) {
      p = (async () => {
        await this.assets(onProgress);
        const disk = await this.rootDisk(templateId, onProgress);
        onProgress?.(`booting the ${templateId} template VM (${memMiB} MiB, ${vcpus} vCPU) to snapshot it`);
        const snap = await buildTemplateSnapshot(this.deps.factory(), this.deps.snapshots, {
          memMiB,
          vcpus,
          limits,
          baseDisk: disk.path,
          runDir: join(this.deps.stateDir, 'run'),
          log: (line) => {
            onProgress?.(line);
            this.deps.log(line, { template: templateId });
          },
        });
        this.limitsBySnapshot.set(snap.id, limits);
        this.deps.onSnapshot(snap);
        return snap;
      })();
      p.catch(() => this.snaps.delete(key));
      this.snaps.set(key, p);
    }
    return p;
  }

  /** The limits a template snapshot was built for (the restore pool makes its targets with them). */
  limitsOf(snapId: string): ResourceLimits | undefined {
    return this.limitsBySnapshot.get(snapId);
  }

  /** Wait for builds in flight (engine shutdown). */
  async settle(): Promise<void> {
    for (const p of this.snaps.values()) await p.catch(() => undefined);
  }

  /**
   * Boot a throwaway VM of a template from its disk (no snapshot) and time it to the agent's
   * hello: what every create would cost without template snapshots.
   */
  async coldBootMs(templateId: string, limits: ResourceLimits): Promise<number> {
    await this.assets();
    const disk = await this.rootDisk(templateId);
    const snap = this.deps.snapshots.create('fork', memMiBFor(limits), vcpusFor(limits.cpus));
    const session = new MuxSession();
    let handle: VmHandle | undefined;
    try {
      const started = performance.now();
      handle = await this.deps.factory().booting(snap, limits, disk.path);
      session.attach(handle.vm.agent);
      await session.waitHello(180_000);
      return performance.now() - started;
    } finally {
      session.close();
      if (handle) await this.deps.factory().destroy(handle);
      this.deps.snapshots.discard(snap);
    }
  }
}
