/**
 * Builds template root filesystems into a content-addressed cache that outlives any one state
 * dir (test runs with fresh state reuse it): `<cacheDir>/images/<key>/rootfs`, finished when
 * `<key>/.complete` exists. A build happens in a temp dir that is renamed into place at the end,
 * so a crash or failure never leaves a tree that looks finished.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { removeTree } from '../host/remove-tree.js';
import { run, tryRun } from '../host/run.js';
import { acquireLock } from './build-lock.js';
import { type BootstrapCommand, debootstrapCommand, runBootstrap } from './debootstrap.js';
import { BUILDER_VERSION, type ImageSpec, imageKey } from './images.js';
import { resolveMirror } from './mirror.js';
import { postprocessTree } from './postprocess.js';
import { shiftOwnership } from './uid-shift.js';

export const DEFAULT_CACHE_DIR = '/var/cache/mitos';

export interface BuildImageOptions {
  /** Default: MITOS_CACHE_DIR, else /var/cache/mitos. */
  cacheDir?: string;
  /** Default: MITOS_DEBIAN_MIRROR, else the host's apt sources, else deb.debian.org. */
  mirror?: string;
  /** Host uid that sandbox uid 0 maps to; the tree is shifted by this much. */
  uidBase: number;
  onProgress?: (line: string) => void;
  /** Replace the debootstrap command line (tests use a fake that writes a few files). */
  bootstrapCommand?: BootstrapCommand;
}

/** Written to `<key>/.complete` when a build finishes. */
export interface BuildMetadata {
  key: string;
  image: string;
  suite: string;
  variant: string;
  packages: string[];
  /** A layer's parent image key. */
  from?: string;
  uidBase: number;
  builderVersion: number;
  mirror: string;
  builtAt: string;
  bootstrapMs: number;
  shiftMs: number;
  totalMs: number;
  entries: number;
  bytes: number;
  /** Set when the tree was not built here but fetched from another node (image-archive.ts). */
  transferredFrom?: string;
  transferredAt?: string;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MITOS_CACHE_DIR || DEFAULT_CACHE_DIR;
}

function imageDir(cacheDir: string, key: string): string {
  return join(cacheDir, 'images', key);
}

/** Where the finished tree of `key` is (whether or not it has been built). */
export function builtRootfs(cacheDir: string, key: string): string {
  return join(imageDir(cacheDir, key), 'rootfs');
}

export function readBuildMetadata(cacheDir: string, key: string): BuildMetadata | undefined {
  try {
    return JSON.parse(readFileSync(join(imageDir(cacheDir, key), '.complete'), 'utf8')) as BuildMetadata;
  } catch {
    return undefined;
  }
}

// One build per key in this process; every caller's onProgress hears it, not just the first's.
const inflight = new Map<string, { promise: Promise<string>; listeners: Set<(line: string) => void> }>();

/**
 * The path of the finished tree for `image`, building it first if the cache lacks it.
 * Concurrent calls in this process share one build; other processes wait on a lock file.
 * Failure: MitosError('template_build_failed') and no trace of the attempt in the cache.
 *
 * @example const rootfs = await buildImage(IMAGES.python, { uidBase: 100_000, onProgress: console.log });
 */
export function buildImage(image: ImageSpec, options: BuildImageOptions): Promise<string> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const key = imageKey(image, options.uidBase);
  if (readBuildMetadata(cacheDir, key)) return Promise.resolve(builtRootfs(cacheDir, key));
  const id = `${cacheDir}\0${key}`;
  let build = inflight.get(id);
  if (!build) {
    const listeners = new Set<(line: string) => void>();
    const fanOut = (line: string): void => {
      for (const listener of listeners) {
        try {
          listener(line);
        } catch {
          // A caller's broken progress callback must not fail everyone's build.
        }
      }
    };
    const promise = buildLocked(image, key, cacheDir, { ...options, onProgress: fanOut }).finally(() =>
      inflight.delete(id),
    );
    build = { promise, listeners };
    inflight.set(id, build);
  }
  if (options.onProgress) build.listeners.add(options.onProgress);
  return build.promise;
}

async function buildLocked(
  image: ImageSpec,
  key: string,
  cacheDir: string,
  options: BuildImageOptions,
): Promise<string> {
  const progress = options.onProgress ?? (() => {});
  const imagesDir = join(cacheDir, 'images');
  const finalDir = imageDir(cacheDir, key);
  mkdirSync(imagesDir, { recursive: true, mode: 0o755 });
  const lock = await acquireLock(`${finalDir}.lock`, {
    onWait: (pid) =>
      progress(`waiting for process ${pid ?? '?'} that is building image ${image.name} (${key.slice(0, 12)})`),
  }).catch((err: Error) => {
    throw new MitosError('template_build_failed', err.message, { image: image.name });
  });
  try {
    // Another process may have finished it while we waited.
    if (readBuildMetadata(cacheDir, key)) return builtRootfs(cacheDir, key);
    // Holding the lock, anything else under this key is debris from a crashed build.
    await removeTree(finalDir);
    for (const name of readdirSync(imagesDir)) {
      if (name.startsWith(`.tmp-${key}-`)) await removeTree(join(imagesDir, name));
    }
    return await buildInto(image, key, cacheDir, options, progress);
  } catch (err) {
    if (err instanceof MitosError && err.code === 'template_build_failed') throw err;
    const detail = err instanceof MitosError ? err.detail : (err as Error).message;
    throw new MitosError('template_build_failed', detail, { image: image.name }, { cause: err });
  } finally {
    lock.release();
  }
}

async function buildInto(
  image: ImageSpec,
  key: string,
  cacheDir: string,
  options: BuildImageOptions,
  progress: (line: string) => void,
): Promise<string> {
  const started = performance.now();
  const mirror = resolveMirror(options.mirror);
  const tmpDir = join(cacheDir, 'images', `.tmp-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const rootfs = join(tmpDir, 'rootfs');
  try {
    if (image.from) {
      // The parent is built (or found) first, under its own key and lock.
      const parent = await buildImage(image.from, options);
      progress(
        `building image ${image.name} (${key.slice(0, 12)}) on ${image.from.name}: + ${image.packages.length} packages`,
      );
      mkdirSync(tmpDir, { recursive: true, mode: 0o755 });
      await run('cp', ['-a', '--reflink=auto', parent, rootfs], { timeoutMs: 30 * 60_000 });
      // Back to plain ids for apt in the chroot; shifted again with the rest below.
      shiftOwnership(rootfs, 0, options.uidBase);
    } else {
      mkdirSync(rootfs, { recursive: true, mode: 0o755 });
      progress(
        `building image ${image.name} (${key.slice(0, 12)}): ${image.suite} ${image.variant} + ${image.packages.length} packages from ${mirror}`,
      );
    }
    const argv = (options.bootstrapCommand ?? debootstrapCommand)(rootfs, mirror, image);
    await runBootstrap({ argv, target: rootfs, onLine: progress });
    const bootstrapMs = performance.now() - started;

    progress('post-processing the tree');
    postprocessTree(rootfs);
    const shift = shiftOwnership(rootfs, options.uidBase);
    progress(`shifted ${shift.entries} inodes to uid/gid base ${options.uidBase} in ${Math.round(shift.ms)} ms`);

    const meta: BuildMetadata = {
      key,
      image: image.name,
      suite: image.suite,
      variant: image.variant,
      packages: [...new Set(image.packages)].sort(),
      ...(image.from ? { from: imageKey(image.from, options.uidBase) } : {}),
      uidBase: options.uidBase,
      builderVersion: BUILDER_VERSION,
      mirror,
      builtAt: new Date().toISOString(),
      bootstrapMs: Math.round(bootstrapMs),
      shiftMs: Math.round(shift.ms),
      totalMs: Math.round(performance.now() - started),
      entries: shift.entries,
      bytes: shift.bytes,
    };
    writeFileSync(join(tmpDir, '.complete'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
    // The rename publishes the tree; flush it first so a power cut cannot publish a hollow one.
    await tryRun('sync', ['-f', tmpDir]);
    renameSync(tmpDir, imageDir(cacheDir, key));
    progress(
      `image ${image.name} ready in ${(meta.totalMs / 1000).toFixed(1)} s (${(shift.bytes / 1e6).toFixed(0)} MB)`,
    );
    return builtRootfs(cacheDir, key);
  } catch (err) {
    await removeTree(tmpDir).catch(() => {});
    throw err;
  }
}

/** True when the tree for `image` is in the cache (no build, no lock). */
export function isImageBuilt(image: ImageSpec, uidBase: number, cacheDir = defaultCacheDir()): boolean {
  return existsSync(join(imageDir(cacheDir, imageKey(image, uidBase)), '.complete'));
}
