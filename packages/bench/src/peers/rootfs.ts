/**
 * Finds the python template's root filesystem in the engine's build cache, so the peers run
 * the very same tree the mitos sandboxes run (shifted to the sandbox uid range).
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CachedRootfs {
  key: string;
  rootfs: string;
  builtAt: string;
}

export function defaultCacheDir(): string {
  return process.env.MITOS_CACHE_DIR || '/var/cache/mitos';
}

/** The newest finished python tree built for `uidBase`, if any. */
export function findPythonRootfs(cacheDir = defaultCacheDir(), uidBase = 100_000): CachedRootfs | undefined {
  const imagesDir = join(cacheDir, 'images');
  if (!existsSync(imagesDir)) return undefined;
  const found: CachedRootfs[] = [];
  for (const key of readdirSync(imagesDir)) {
    // A tree is finished only once the builder wrote `.complete` (its build metadata).
    let meta: { image?: unknown; uidBase?: unknown; builtAt?: unknown };
    try {
      meta = JSON.parse(readFileSync(join(imagesDir, key, '.complete'), 'utf8'));
    } catch {
      continue;
    }
    const rootfs = join(imagesDir, key, 'rootfs');
    if (meta.image === 'python' && meta.uidBase === uidBase && existsSync(join(rootfs, 'usr/bin/python3'))) {
      found.push({ key, rootfs, builtAt: typeof meta.builtAt === 'string' ? meta.builtAt : '' });
    }
  }
  return found.sort((a, b) => b.builtAt.localeCompare(a.builtAt))[0];
}
