import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

// Servers started by init systems often have a PATH without the sbin directories where
// mkfs.btrfs, losetup and debootstrap live.
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an executable on PATH or in the system directories, if any. */
export function which(command: string, path = process.env.PATH ?? ''): string | undefined {
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  const dirs = [...path.split(':').filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
