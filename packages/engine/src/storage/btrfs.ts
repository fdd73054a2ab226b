/**
 * Sandbox roots on a loop-mounted btrfs image. An image is a read-only subvolume; a sandbox's
 * root is an overlay with that image as its lower layer and its own writes in an upper held by
 * a subvolume of its own; a fork snapshots that subvolume and keeps the same lower. Snapshots
 * cost a few milliseconds whatever the size of the tree, and because every sandbox and fork of
 * an image reads the same lower inodes, the template's files sit in the page cache once (a
 * snapshot of the whole tree has inodes of its own: each sandbox read its own copy).
 *
 * Layout under `<stateDir>/storage`: `btrfs.img`, mounted at `vol/`, holding `images/<key>`,
 * `seeds/<key>` (an empty upper for that image, snapshotted by each new sandbox) and
 * `sandboxes/<id>/{upper,work,rootfs,layout.json}`; an OCI image's unpacked layer chains are
 * images too (`images/chain-<key>`, each a snapshot of the one below: templates/oci/layers.ts).
 * Sandboxes made before the overlay layout (a whole-tree snapshot, no layout.json) keep
 * working as bind roots.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { removeTree } from '../host/remove-tree.js';
import { run, tryRun } from '../host/run.js';
import { layoutAt, writeSeed } from './btrfs-layout.js';
import { removeDebris, snapshotStaged } from './btrfs-stage.js';
import { canonicalPath } from './canonical.js';
import { dropQgroup, liftLimit, limitSubvolume } from './disk-quota.js';
import { LoopVolume } from './loop-volume.js';
import { checkName, isStaleTemp, isTemp, tempName } from './names.js';
import { once } from './once.js';
import type { RootLayout, SandboxStorage } from './storage.js';

export interface BtrfsStorageOptions {
  stateDir: string;
  /** Apparent size of a new image file (sparse). Default 64 GiB, capped by free space. */
  sizeBytes?: number;
  /**
   * Enable btrfs quota groups so usage() can report per-sandbox bytes. Off by default: measured
   * here, qgroups made a snapshot ~6x slower (median 12 -> 67 ms) and an unmount after 40
   * deletes 0.9 -> 19 s, because the accounting of deleted subvolumes runs first.
   */
  quotas?: boolean;
  /**
   * Makes writable snapshots of `source` at each target path. Default: the btrfs tool, one
   * process per snapshot; the engine passes its agent's ioctl-based one (one process for all).
   */
  snapshotter?: (source: string, targets: string[]) => Promise<void>;
  /**
   * Deletes one subvolume, answering false on failure. Default: the btrfs tool, whose command
   * line names the path; the engine passes its agent's, which takes the path on stdin.
   */
  subvolumeDeleter?: (path: string) => Promise<boolean>;
  /**
   * Turns on simple quotas (disk-quota.ts) for the mounted volume; false when the kernel has
   * none. Without it, disk limits are refused.
   */
  simpleQuotas?: (mountPoint: string) => Promise<boolean>;
}

async function btrfsToolSnapshots(source: string, targets: string[]): Promise<void> {
  // Without -r: a snapshot of a read-only image is writable.
  for (const target of targets) await run('btrfs', ['subvolume', 'snapshot', source, target]);
}

async function btrfsToolDelete(path: string): Promise<boolean> {
  return (await tryRun('btrfs', ['subvolume', 'delete', path])).ok;
}

export class BtrfsStorage implements SandboxStorage {
  readonly kind = 'btrfs' as const;
  private readonly volume: LoopVolume;
  private readonly images: string;
  private readonly seeds: string;
  private readonly sandboxes: string;
  private readonly seeding = new Map<string, Promise<string>>();
  private opening: Promise<void> | undefined;
  private readonly importing = new Map<string, Promise<void>>();
  private quotasOn = false;
  private simpleQuotasOn = false;
  /** Roots with a disk limit, whose limit must be lifted before they can be deleted. */
  private readonly limited = new Set<string>();

  constructor(private readonly options: BtrfsStorageOptions) {
    const dir = canonicalPath(join(options.stateDir, 'storage'));
    this.volume = new LoopVolume({
      image: join(dir, 'btrfs.img'),
      mountPoint: join(dir, 'vol'),
      sizeBytes: options.sizeBytes,
    });
    this.images = join(dir, 'vol', 'images');
    this.seeds = join(dir, 'vol', 'seeds');
    this.sandboxes = join(dir, 'vol', 'sandboxes');
  }

  /** The mounted volume (for tests and `mitos doctor`). */
  get mountPoint(): string {
    return this.volume.mountPoint;
  }

  open(): Promise<void> {
    this.opening ??= this.doOpen().catch((err) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    await this.volume.ensureMounted();
    // Root only: the launcher builds each sandbox's root as host root, so no sandbox uid ever
    // has to traverse these, and no other host user may.
    const dirs = [this.images, this.seeds, this.sandboxes];
    for (const dir of dirs) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
    for (const dir of dirs) {
      for (const name of readdirSync(dir))
        if (isStaleTemp(name)) await removeDebris(join(dir, name), (p) => this.deleteSubvolume(p));
    }
    if (this.options.quotas) await run('btrfs', ['quota', 'enable', this.volume.mountPoint]);
    else if (this.options.simpleQuotas) this.simpleQuotasOn = await this.options.simpleQuotas(this.volume.mountPoint);
    this.quotasOn = (await tryRun('btrfs', ['qgroup', 'show', this.volume.mountPoint])).ok;
  }

  hasImage(key: string): boolean {
    return existsSync(join(this.images, checkName('image key', key)));
  }

  importImage(key: string, sourceDir: string): Promise<void> {
    // The cache tree is on another filesystem, so this is a real copy; reflink=auto still
    // helps when the cache happens to live on btrfs too.
    return this.deriveImage(key, undefined, async (dir) => {
      await run('cp', ['-a', '--reflink=auto', `${sourceDir}/.`, `${dir}/`], { timeoutMs: 30 * 60_000 });
    });
  }

  /**
   * Publish image `key` as what `fill` makes of a writable snapshot of image `parent` (of an
   * empty subvolume without one): an image derived from another shares every extent it keeps.
   */
  deriveImage(key: string, parent: string | undefined, fill: (dir: string) => Promise<void>): Promise<void> {
    checkName('image key', key);
    if (parent !== undefined) checkName('image key', parent);
    if (this.hasImage(key)) return Promise.resolve();
    return once(this.importing, key, () => this.doDerive(key, parent, fill));
  }

  private async doDerive(key: string, parent: string | undefined, fill: (dir: string) => Promise<void>): Promise<void> {
    await this.open();
    const final = join(this.images, key);
    const tmp = join(this.images, tempName(key));
    try {
      if (parent === undefined) await run('btrfs', ['subvolume', 'create', tmp]);
      else if (!this.hasImage(parent)) throw new MitosError('not_found', `image ${parent} is not imported`);
      else await run('btrfs', ['subvolume', 'snapshot', join(this.images, parent), tmp]);
      await fill(tmp);
      await run('btrfs', ['property', 'set', '-ts', tmp, 'ro', 'true']);
      await this.publish(tmp, final, key);
    } catch (err) {
      await this.deleteSubvolume(tmp).catch(() => {});
      throw err instanceof MitosError
        ? err
        : new MitosError('internal', `import of image ${key}: ${(err as Error).message}`);
    }
  }

  async createRoot(sandboxId: string, imageKey: string, options: { wholeTree?: boolean } = {}): Promise<RootLayout> {
    if (!this.hasImage(imageKey)) throw new MitosError('not_found', `image ${imageKey} is not imported`);
    if (options.wholeTree) return this.snapshot(join(this.images, imageKey), sandboxId);
    return this.snapshot(await this.seed(imageKey), sandboxId);
  }

  /** The read-only empty upper of an image, made once (images imported earlier get theirs here). */
  private seed(imageKey: string): Promise<string> {
    const path = join(this.seeds, imageKey);
    if (existsSync(path)) return Promise.resolve(path);
    return once(this.seeding, imageKey, () => this.makeSeed(imageKey, path));
  }

  private async makeSeed(imageKey: string, final: string): Promise<string> {
    const tmp = join(this.seeds, tempName(imageKey));
    try {
      await run('btrfs', ['subvolume', 'create', tmp]);
      writeSeed(tmp, join(this.images, imageKey), imageKey);
      await run('btrfs', ['property', 'set', '-ts', tmp, 'ro', 'true']);
      try {
        renameSync(tmp, final);
      } catch (err) {
        if (!existsSync(final)) throw err;
        await this.deleteSubvolume(tmp);
      }
      return final;
    } catch (err) {
      await this.deleteSubvolume(tmp).catch(() => {});
      throw err instanceof MitosError
        ? err
        : new MitosError('internal', `empty upper for image ${imageKey}: ${(err as Error).message}`);
    }
  }

  async snapshotRoot(sourceId: string, targetId: string): Promise<RootLayout> {
    const [layout] = await this.snapshotRoots(sourceId, [targetId]);
    return layout as RootLayout;
  }

  async snapshotRoots(sourceId: string, targetIds: string[]): Promise<RootLayout[]> {
    const source = join(this.sandboxes, checkName('sandbox id', sourceId));
    if (!existsSync(source)) throw new MitosError('not_found', `sandbox root ${sourceId} does not exist`);
    return this.snapshots(source, targetIds);
  }

  private async snapshot(source: string, targetId: string): Promise<RootLayout> {
    const [layout] = await this.snapshots(source, [targetId]);
    return layout as RootLayout;
  }

  private async snapshots(source: string, targetIds: string[]): Promise<RootLayout[]> {
    const targets = targetIds.map((id) => join(this.sandboxes, checkName('sandbox id', id)));
    for (const [i, target] of targets.entries()) {
      if (existsSync(target)) throw new MitosError('conflict', `sandbox root ${targetIds[i]} already exists`);
    }
    const snapshotter = this.options.snapshotter ?? btrfsToolSnapshots;
    await snapshotStaged(source, this.sandboxes, targetIds, snapshotter, (p) => this.deleteSubvolume(p));
    return targets.map((dir) => this.layoutAt(dir));
  }

  private layoutAt(dir: string): RootLayout {
    return layoutAt(dir, this.images);
  }

  async commitRoot(sandboxId: string, key: string, replace = false): Promise<void> {
    const source = join(this.sandboxes, checkName('sandbox id', sandboxId));
    const final = join(this.images, checkName('image key', key));
    if (!existsSync(source)) throw new MitosError('not_found', `sandbox root ${sandboxId} does not exist`);
    if (this.hasImage(key) && !replace) return;
    const tmp = join(this.images, tempName(key));
    try {
      if (this.layoutAt(source).kind === 'overlay') {
        // An image is a whole tree; a root to be published is made as one (createRoot's
        // wholeTree), never merged from an overlay's layers.
        throw new MitosError('internal', `sandbox root ${sandboxId} is an overlay and cannot be published as an image`);
      }
      await run('btrfs', ['subvolume', 'snapshot', '-r', source, tmp]);
      if (replace) await this.removeImage(key);
      await this.publish(tmp, final, key);
    } catch (err) {
      await this.deleteSubvolume(tmp).catch(() => {});
      throw err;
    }
  }

  imagePath(key: string): string {
    return join(this.images, checkName('image key', key));
  }

  /**
   * Rename a finished read-only temp subvolume to its key. Synced first: a crash must not leave
   * a published image with lost data. Another process (or build) that published the same key
   * first made the same content: theirs is kept.
   */
  private async publish(tmp: string, final: string, key: string): Promise<void> {
    await run('btrfs', ['filesystem', 'sync', tmp]);
    try {
      renameSync(tmp, final);
    } catch (err) {
      if (!this.hasImage(key)) throw err;
      await this.deleteSubvolume(tmp);
    }
  }

  listImages(): string[] {
    try {
      return readdirSync(this.images).filter((name) => !isTemp(name));
    } catch {
      return [];
    }
  }

  /** Refused (conflict) while a sandbox root has the image as its lower layer. */
  async removeImage(key: string): Promise<void> {
    const image = join(this.images, checkName('image key', key));
    const users = this.listRoots().filter((id) => {
      const layout = this.layoutAt(join(this.sandboxes, id));
      return layout.kind === 'overlay' && layout.lowerdirs.includes(image);
    });
    if (users.length > 0) {
      throw new MitosError(
        'conflict',
        `image ${key} is the lower layer of ${users.length} sandbox root(s)`,
        { image: key },
        { remediation: 'terminate the sandboxes made from it, then remove it' },
      );
    }
    await this.deleteSubvolume(join(this.seeds, key));
    await this.deleteSubvolume(image);
  }

  renameRoot(fromId: string, toId: string): void {
    // The sandbox's own mount of its root refers to the subvolume, not this path: it keeps working.
    renameSync(
      join(this.sandboxes, checkName('sandbox id', fromId)),
      join(this.sandboxes, checkName('sandbox id', toId)),
    );
    if (this.limited.delete(fromId)) this.limited.add(toId);
  }

  async limitDisk(sandboxId: string, bytes: number): Promise<void> {
    if (!this.simpleQuotasOn) {
      throw new MitosError(
        'host_unsupported',
        'per-sandbox disk limits need btrfs simple quotas (Linux 6.7 or later)',
        { sandbox: sandboxId },
        { remediation: 'create the sandbox without limits.disk_mb, or run the server on a newer kernel' },
      );
    }
    const path = join(this.sandboxes, checkName('sandbox id', sandboxId));
    await limitSubvolume(this.volume.mountPoint, path, bytes);
    this.limited.add(sandboxId);
  }

  rootLayout(sandboxId: string): RootLayout | undefined {
    const dir = join(this.sandboxes, checkName('sandbox id', sandboxId));
    return existsSync(dir) ? this.layoutAt(dir) : undefined;
  }

  async removeRoot(sandboxId: string): Promise<void> {
    const path = join(this.sandboxes, checkName('sandbox id', sandboxId));
    if (!existsSync(path)) return;
    const group = this.limited.has(sandboxId) ? await liftLimit(this.volume.mountPoint, path) : undefined;
    await this.deleteSubvolume(path);
    this.limited.delete(sandboxId);
    if (group) await dropQgroup(this.volume.mountPoint, group);
  }

  listRoots(): string[] {
    try {
      return readdirSync(this.sandboxes).filter((name) => !isTemp(name));
    } catch {
      return [];
    }
  }

  async usage(sandboxId: string): Promise<{ exclusiveBytes: number; sharedBytes: number } | undefined> {
    const path = join(this.sandboxes, checkName('sandbox id', sandboxId));
    if (!this.quotasOn || !existsSync(path)) return undefined;
    const res = await tryRun('btrfs', ['qgroup', 'show', '--raw', '-f', path]);
    // Row: "0/<subvolid>  <referenced>  <exclusive>  <path>"
    const row = /^0\/\d+\s+(\d+)\s+(\d+)/m.exec(res.stdout);
    if (!row) return undefined;
    const referenced = Number(row[1]);
    const exclusive = Number(row[2]);
    return { exclusiveBytes: exclusive, sharedBytes: Math.max(0, referenced - exclusive) };
  }

  async destroy(): Promise<void> {
    await this.opening?.catch(() => {});
    await Promise.allSettled([...this.importing.values(), ...this.seeding.values()]);
    await this.volume.unmountAndDetach();
    this.opening = undefined;
    this.quotasOn = false;
    this.simpleQuotasOn = false;
  }

  /**
   * Delete a subvolume. A sandbox can create subvolumes of its own inside its root, and mark
   * them (or its root) read-only, since it owns them; either makes a plain delete fail, so
   * the slow path clears read-only flags and deletes the nested ones deepest first.
   */
  private async deleteSubvolume(path: string): Promise<void> {
    if (!existsSync(path)) return;
    if (await (this.options.subvolumeDeleter ?? btrfsToolDelete)(path)) return;
    // A root at its disk limit (one limited before a restart) cannot be deleted until the
    // limit is lifted.
    const group = this.simpleQuotasOn ? await liftLimit(this.volume.mountPoint, path) : undefined;
    if (group && (await tryRun('btrfs', ['subvolume', 'delete', path])).ok) {
      await dropQgroup(this.volume.mountPoint, group);
      return;
    }
    const nested = await this.nestedSubvolumes(path);
    if (nested.length === 0 && !(await tryRun('btrfs', ['subvolume', 'show', path])).ok) {
      // Not a subvolume at all (debris of a failed create): an ordinary directory.
      await removeTree(path);
      return;
    }
    for (const sub of [path, ...nested]) await tryRun('btrfs', ['property', 'set', '-ts', sub, 'ro', 'false']);
    for (const sub of nested) await run('btrfs', ['subvolume', 'delete', sub]);
    await run('btrfs', ['subvolume', 'delete', path]);
    if (group) await dropQgroup(this.volume.mountPoint, group);
  }

  /** Subvolumes below `path`, deepest first. */
  private async nestedSubvolumes(path: string): Promise<string[]> {
    const { stdout } = await run('btrfs', ['subvolume', 'list', this.volume.mountPoint]);
    const relative = path.slice(this.volume.mountPoint.length + 1);
    return stdout
      .split('\n')
      .map((line) => /\spath\s(.+)$/.exec(line)?.[1])
      .filter((p): p is string => p?.startsWith(`${relative}/`) === true)
      .sort((a, b) => b.split('/').length - a.split('/').length)
      .map((p) => join(this.volume.mountPoint, p));
  }
}
