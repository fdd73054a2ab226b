/** The on-disk layout every engine opens the same way. */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_UID_BASE } from './uid-range.js';

/** Template, kernel and disk cache shared across state directories. */
export function defaultCacheDir(): string {
  return process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos';
}

/**
 * Make the state directory (absolute) with its private run/ (agent sockets) and logs/.
 * `traversable`: others may traverse, not read, it (QEMU uids resolve paths below it);
 * otherwise it is root's alone.
 */
export function prepareStateDir(dir: string, access: 'private' | 'traversable'): string {
  const stateDir = resolve(dir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, access === 'private' ? 0o700 : statSync(stateDir).mode | 0o011);
  for (const sub of ['run', 'logs']) mkdirSync(join(stateDir, sub), { recursive: true, mode: 0o700 });
  return stateDir;
}

/** The directory options every engine takes, with their defaults. */
export function engineDirs(options: { stateDir: string; cacheDir?: string; uidBase?: number }): {
  stateDir: string;
  cacheDir: string;
  uidBase: number;
} {
  return {
    stateDir: resolve(options.stateDir),
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    uidBase: options.uidBase ?? DEFAULT_UID_BASE,
  };
}
