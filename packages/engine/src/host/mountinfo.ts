/**
 * The mount table as the kernel reports it. /proc/self/mountinfo (not /proc/mounts) because it
 * carries the super options that name cgroup v1 controllers, and because it is the only source
 * that stays right after a server restart: whatever we mounted earlier is still listed there.
 */
import { readFileSync } from 'node:fs';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** The directory of the filesystem that is mounted here (bind mounts: not `/`). */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  options: string[];
  superOptions: string[];
}

// The kernel escapes space, tab, newline and backslash in paths as \ooo octal.
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    // Optional fields (shared:N, master:N) sit between field 6 and the "-" separator.
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 4) continue;
    entries.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      root: unescapeOctal(fields[3] ?? ''),
      mountPoint: unescapeOctal(fields[4] ?? ''),
      options: (fields[5] ?? '').split(','),
      fsType: fields[sep + 1] ?? '',
      source: unescapeOctal(fields[sep + 2] ?? ''),
      superOptions: (fields[sep + 3] ?? '').split(','),
    });
  }
  return entries;
}

export function readMountinfo(path = '/proc/self/mountinfo'): MountEntry[] {
  return parseMountinfo(readFileSync(path, 'utf8'));
}

/** Mounts at `dir` or below it, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string, entries: MountEntry[] = readMountinfo()): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries
    .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(prefix))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
}

/** The topmost mount at exactly `dir`, if any (the one a path lookup would see). */
export function mountAt(dir: string, entries: MountEntry[] = readMountinfo()): MountEntry | undefined {
  const matches = entries.filter((m) => m.mountPoint === dir);
  return matches[matches.length - 1];
}
