/**
 * Sandbox roots as overlays, for hosts without btrfs: an image is a plain directory used as
 * the read-only lower layer; a sandbox owns an upper and a work directory, with ids in the same
 * on-disk range as the image. The launcher mounts the overlay, every layer idmapped into the
 * sandbox's own range, in a mount namespace of its own, so it never appears in the host's
 * mount table and dies with the sandbox. A fork copies the (frozen) upper directory: its ids
 * need no shift, the child's mount maps them into the child's range.
 *
 * Layout under `<stateDir>/storage`: `images/<key>/` and
 * `sandboxes/<id>/{upper,work,rootfs,layout.json}`.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { removeTree } from '../host/remove-tree.js';
import { run } from '../host/run.js';
import { DEFAULT_UID_BASE } from '../host/uid-range.js';
import { canonicalPath } from './canonical.js';
import { checkName, isStaleTemp, isTemp, tempName } from './names.js';
import { once } from './once.js';
import type { RootLayout, SandboxStorage } from './storage.js';

export interface OverlayStorageOptions {
  stateDir: string;
  /** Host uid of sandbox root: owner of each sandbox's upper, work and mount point. */
  uidBase?: number;
}

/** What a sandbox directory records about itself, so its layout survives a restart. */
interface LayoutFile {
  /** Image keys of the lower layers, topmost first. */
  lowers: string[];
}

export class OverlayStorage implements SandboxStorage {
  readonly kind = 'overlay' as const;
  private readonly images: string;
  private readonly sandboxes: string;
  private readonly uidBase: number;
  private readonly importing = new Map<string, Promise<void>>();
  private readonly imageBytes = new Map<string, number>();

  constructor(options: OverlayStorageOptions) {
    const dir = canonicalPath(join(options.stateDir, 'storage'));
    this.images = join(dir, 'images');
    this.sandboxes = join(dir, 'sandboxes');
    this.uidBase = options.uidBase ?? DEFAULT_UID_BASE;
  }

  async open(): Promise<void> {
    // Root only: the launcher mounts the overlay as host root, so no sandbox uid (and no
    // other host user) needs to traverse these.
    for (const dir of [this.images, this.sandboxes]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      for (const name of readdirSync(dir)) if (isStaleTemp(name)) await removeTree(join(dir, name));
    }
  }

  hasImage(key: string): boolean {
    return existsSync(join(this.images, checkName('image key', key)));
  }

  importImage(key: string, sourceDir: string): Promise<void> {
    checkName('image key', key);
    if (this.hasImage(key)) return Promise.resolve();
    return once(this.importing, key, () => this.doImport(key, sourceDir));
  }

  private async doImport(key: string, sourceDir: string): Promise<void> {
    const tmp = join(this.images, tempName(key));
    try {
      mkdirSync(tmp, { mode: 0o755 });
      await run('cp', ['-a', '--reflink=auto', `${sourceDir}/.`, `${tmp}/`], { timeoutMs: 30 * 60_000 });
      await run('sync', ['-f', tmp]);
      try {
        renameSync(tmp, join(this.images, key));
      } catch (err) {
        // Another process published the same key first: same content, keep theirs.
        if (!this.hasImage(key)) throw err;
        await removeTree(tmp);
      }
    } catch (err) {
      await removeTree(tmp).catch(() => {});
      throw err instanceof MitosError
        ? err
        : new MitosError('internal', `import of image ${key}: ${(err as Error).message}`);
    }
  }

  async createRoot(sandboxId: string, imageKey: string): Promise<RootLayout> {
    if (!this.hasImage(imageKey)) throw new MitosError('not_found', `image ${imageKey} is not imported`);
    return this.makeRoot(sandboxId, { lowers: [imageKey] }, undefined);
  }

  async snapshotRoot(sourceId: string, targetId: string): Promise<RootLayout> {
    const source = this.readLayout(sourceId);
    if (!source) throw new MitosError('not_found', `sandbox root ${sourceId} does not exist`);
    return this.makeRoot(targetId, source, join(this.sandboxes, sourceId, 'upper'));
  }

  async snapshotRoots(sourceId: string, targetIds: string[]): Promise<RootLayout[]> {
    const out: RootLayout[] = [];
    for (const id of targetIds) out.push(await this.snapshotRoot(sourceId, id));
    return out;
  }

  /** Build the sandbox dir under a temp name and rename it: it exists complete or not at all. */
  private async makeRoot(
    sandboxId: string,
    layout: LayoutFile,
    copyUpperFrom: string | undefined,
  ): Promise<RootLayout> {
    const final = join(this.sandboxes, checkName('sandbox id', sandboxId));
    if (existsSync(final)) throw new MitosError('conflict', `sandbox root ${sandboxId} already exists`);
    const tmp = join(this.sandboxes, tempName(sandboxId));
    try {
      mkdirSync(tmp, { mode: 0o700 });
      if (copyUpperFrom) {
        // cp -a keeps whiteouts (0/0 char devices) and overlay xattrs, which are the upper's
        // record of deletions and opaque directories.
        await run('cp', ['-a', copyUpperFrom, join(tmp, 'upper')], { timeoutMs: 30 * 60_000 });
      } else {
        // The merged root directory takes its owner and mode from the upper root.
        const top = lstatSync(join(this.images, layout.lowers[0] as string));
        this.ownedDir(join(tmp, 'upper'), top.mode & 0o7777, top.uid, top.gid);
      }
      this.ownedDir(join(tmp, 'work'), 0o700, this.uidBase, this.uidBase);
      this.ownedDir(join(tmp, 'rootfs'), 0o755, this.uidBase, this.uidBase);
      writeFileSync(join(tmp, 'layout.json'), `${JSON.stringify(layout)}\n`, { mode: 0o644 });
      renameSync(tmp, final);
    } catch (err) {
      await removeTree(tmp).catch(() => {});
      if (err instanceof MitosError) throw err;
      throw new MitosError('internal', `creating sandbox root ${sandboxId}: ${(err as Error).message}`);
    }
    return this.layoutOf(sandboxId, layout);
  }

  private ownedDir(path: string, mode: number, uid: number, gid: number): void {
    mkdirSync(path);
    chownSync(path, uid, gid);
    chmodSync(path, mode);
  }

  private readLayout(sandboxId: string): LayoutFile | undefined {
    try {
      const parsed = JSON.parse(
        readFileSync(join(this.sandboxes, checkName('sandbox id', sandboxId), 'layout.json'), 'utf8'),
      ) as LayoutFile;
      return Array.isArray(parsed.lowers) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  private layoutOf(sandboxId: string, layout: LayoutFile): RootLayout {
    const dir = join(this.sandboxes, sandboxId);
    return {
      kind: 'overlay',
      lowerdirs: layout.lowers.map((key) => join(this.images, key)),
      upperdir: join(dir, 'upper'),
      workdir: join(dir, 'work'),
      rootfs: join(dir, 'rootfs'),
    };
  }

  rootLayout(sandboxId: string): RootLayout | undefined {
    const layout = this.readLayout(sandboxId);
    return layout ? this.layoutOf(sandboxId, layout) : undefined;
  }

  async removeRoot(sandboxId: string): Promise<void> {
    await removeTree(join(this.sandboxes, checkName('sandbox id', sandboxId)));
  }

  listRoots(): string[] {
    try {
      return readdirSync(this.sandboxes).filter((name) => !isTemp(name));
    } catch {
      return [];
    }
  }

  async usage(sandboxId: string): Promise<{ exclusiveBytes: number; sharedBytes: number } | undefined> {
    const layout = this.readLayout(sandboxId);
    if (!layout) return undefined;
    const exclusiveBytes = await diskBytes(join(this.sandboxes, sandboxId, 'upper'));
    let sharedBytes = 0;
    for (const key of layout.lowers) {
      let bytes = this.imageBytes.get(key);
      if (bytes === undefined) {
        // Images never change once imported: measure each once.
        bytes = await diskBytes(join(this.images, key));
        this.imageBytes.set(key, bytes);
      }
      sharedBytes += bytes;
    }
    return { exclusiveBytes, sharedBytes };
  }

  async destroy(): Promise<void> {
    // Nothing is mounted on the host; wait for imports so none is left half-copied.
    await Promise.allSettled([...this.importing.values()]);
  }
}

// du in a child process: a walk of a large upper must not block the server's event loop.
async function diskBytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-s', '-B1', '-x', dir]);
  return Number(stdout.split(/\s/)[0]) || 0;
}
