/** Whether this host can run the btrfs backend: cheap checks, no loop device is attached. */
import { existsSync, readFileSync } from 'node:fs';
import { which } from '../host/which.js';

export interface Probe {
  ok: boolean;
  detail: string;
  fix?: string;
}

export function probeBtrfs(): Probe {
  if (!which('mkfs.btrfs') || !which('btrfs')) {
    return { ok: false, detail: 'mkfs.btrfs/btrfs not found', fix: 'apt-get install btrfs-progs' };
  }
  if (!which('losetup')) return { ok: false, detail: 'losetup not found', fix: 'apt-get install mount' };
  if (process.getuid?.() !== 0) return { ok: false, detail: 'loop devices need root', fix: 'run the server as root' };
  if (!existsSync('/dev/loop-control')) {
    return {
      ok: false,
      detail: '/dev/loop-control is missing (no loop driver, or a container without it)',
      fix: 'modprobe loop, or give the container /dev/loop-control and the loop devices',
    };
  }
  let filesystems = '';
  try {
    filesystems = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    // Unreadable: let the mount attempt decide.
  }
  // Not listed can still mean "loadable on first mount"; only a listed one is certain.
  if (filesystems && !/\sbtrfs$/m.test(filesystems) && !existsSync('/sys/module/btrfs')) {
    return {
      ok: true,
      detail: 'btrfs-progs and loop devices present; btrfs module not loaded yet (it loads on first mount)',
    };
  }
  return { ok: true, detail: 'btrfs-progs, loop devices and the btrfs filesystem are available' };
}
