/**
 * A finished built-in image tree moved between hosts' build caches, so a host that lacks it never
 * runs debootstrap for it: the holder archives `<cacheDir>/images/<key>/rootfs` as a plain tar
 * (numeric owners, xattrs; no compression: the trees are mostly packages that compress poorly
 * and gzip dominated the spec-template export), the receiver extracts it into a temp dir, checks
 * and shifts it from the holder's uid range into its own, and publishes it with `.complete`
 * under the same lock and rename a build uses. The caller checks the archive's digest; this
 * module checks what the tree may contain, since the holder is only trusted for integrity.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, type Stats, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { removeTree } from '../host/remove-tree.js';
import { run, tryRun } from '../host/run.js';
import { acquireLock } from './build-lock.js';
import { type BuildMetadata, builtRootfs, readBuildMetadata } from './builder.js';
import { BUILDER_VERSION, imageKey, resolveImage } from './images.js';
import { shiftOwnership } from './uid-shift.js';

const TAR_TIMEOUT_MS = 30 * 60_000;
const TAR_FORMAT = ['--numeric-owner', '--xattrs', '--xattrs-include=*'];

/** The engine's build cache of built-in image trees, as another host reads from and writes into it. */
export interface BuiltImageCache {
  /** True when the finished tree of the built-in `templateId` runs is cached (preparing it builds nothing). */
  has(templateId: string): boolean;
  /** The cached tree's build metadata (`.complete`), or undefined. */
  metadata(templateId: string): BuildMetadata | undefined;
  /** Writes the cached tree as a tar to `file`; returns its build metadata. */
  archive(templateId: string, file: string): Promise<BuildMetadata>;
  /**
   * Publishes a tree another host archived (its metadata `from`, its tar `file`, already checked
   * against its digest by the caller) as this host's finished build of `templateId`.
   */
  install(templateId: string, file: string, from: BuildMetadata, origin: string): Promise<void>;
}

export class ImageCache implements BuiltImageCache {
  constructor(
    readonly cacheDir: string,
    readonly uidBase: number,
  ) {}

  #key(templateId: string): string {
    return imageKey(resolveImage(templateId), this.uidBase);
  }

  has(templateId: string): boolean {
    return this.metadata(templateId) !== undefined;
  }

  metadata(templateId: string): BuildMetadata | undefined {
    return readBuildMetadata(this.cacheDir, this.#key(templateId));
  }

  async archive(templateId: string, file: string): Promise<BuildMetadata> {
    const key = this.#key(templateId);
    const meta = readBuildMetadata(this.cacheDir, key);
    if (!meta) throw new MitosError('template_not_ready', `the image of ${templateId} is not in this host's cache`);
    const args = ['--create', `--file=${file}`, ...TAR_FORMAT, `--directory=${builtRootfs(this.cacheDir, key)}`, '.'];
    await run('tar', args, { timeoutMs: TAR_TIMEOUT_MS });
    return meta;
  }

  async install(templateId: string, file: string, from: BuildMetadata, origin: string): Promise<void> {
    const image = resolveImage(templateId);
    // The holder's tree must be this recipe built by this builder, in its own uid range.
    if (!Number.isSafeInteger(from.uidBase) || from.uidBase < 0 || from.key !== imageKey(image, from.uidBase)) {
      throw refusal(templateId, `${origin} sent a tree of key ${from.key}, not this host's recipe of ${image.name}`);
    }
    const key = imageKey(image, this.uidBase);
    const imagesDir = join(this.cacheDir, 'images');
    const finalDir = join(imagesDir, key);
    mkdirSync(imagesDir, { recursive: true, mode: 0o755 });
    const lock = await acquireLock(`${finalDir}.lock`);
    const tmpDir = join(imagesDir, `.tmp-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      // A build (or another install) finished it while we fetched.
      if (readBuildMetadata(this.cacheDir, key)) return;
      await removeTree(finalDir);
      const rootfs = join(tmpDir, 'rootfs');
      // Root's alone until checked: a forged setuid file must not be reachable by a host user meanwhile.
      mkdirSync(tmpDir, { mode: 0o700 });
      mkdirSync(rootfs, { mode: 0o755 });
      const extracted = await tryRun(
        'tar',
        ['--extract', `--file=${file}`, ...TAR_FORMAT, '--same-owner', '--same-permissions', `--directory=${rootfs}`],
        { timeoutMs: TAR_TIMEOUT_MS },
      );
      if (!extracted.ok) {
        throw refusal(templateId, `the tree from ${origin} does not extract: ${(extracted.error as Error).message}`);
      }
      let shift: ReturnType<typeof shiftOwnership>;
      try {
        shift = shiftOwnership(rootfs, this.uidBase, from.uidBase, refuseSpecialFiles);
      } catch (err) {
        throw refusal(templateId, `the tree from ${origin}: ${(err as Error).message}`);
      }
      const meta: BuildMetadata = {
        ...from,
        key,
        uidBase: this.uidBase,
        builderVersion: BUILDER_VERSION,
        entries: shift.entries,
        bytes: shift.bytes,
        transferredFrom: origin,
        transferredAt: new Date().toISOString(),
      };
      writeFileSync(join(tmpDir, '.complete'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
      await tryRun('sync', ['-f', tmpDir]);
      chmodSync(tmpDir, 0o755);
      renameSync(tmpDir, finalDir);
    } finally {
      if (existsSync(tmpDir)) await removeTree(tmpDir).catch(() => {});
      lock.release();
    }
  }
}

/**
 * A built tree holds directories, regular files and symlinks only (the builder's trees have no
 * device nodes): a device node from another host would give a sandbox a door to host hardware.
 */
function refuseSpecialFiles(path: string, st: Stats): void {
  if (st.isDirectory() || st.isFile() || st.isSymbolicLink()) return;
  throw new Error(`${path} is a device, fifo or socket, which no built image holds`);
}

function refusal(templateId: string, detail: string): MitosError {
  return new MitosError(
    'template_build_failed',
    `installing the image of ${templateId}: ${detail}`,
    { template: templateId },
    { remediation: 'fetch it from another node that holds it, or build it on this node' },
  );
}
