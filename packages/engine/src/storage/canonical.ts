import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * The symlink-free absolute form of a path that may not exist yet: the mount table lists real
 * paths, so a state dir reached through a symlink (/tmp -> /private/tmp) must be resolved
 * before it is compared with mount points.
 */
export function canonicalPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(canonicalPath(parent), basename(abs));
  }
}
