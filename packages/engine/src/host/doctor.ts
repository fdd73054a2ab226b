/**
 * `mitos doctor`: can this host run sandboxes, and if not, what exactly to do about it.
 * Every check is read-only (the user-namespace probe runs `true` in a throwaway namespace).
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_UID_BASE, UID_RANGE_SIZE } from './uid-range.js';

export interface HostCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** A concrete command or setting that makes a failing check pass. */
  fix?: string;
}

export interface HostReport {
  checks: HostCheck[];
  ok: boolean;
}

export interface HostCheckOptions {
  stateDir?: string;
  cacheDir?: string;
  uidBase?: number;
}

const GiB = 1024 ** 3;
// One python image (~0.7 GB in the cache, again in storage) plus room for sandbox writes.
const MIN_FREE_BYTES = 5 * GiB;

/** A driver's own checks (its doctor.ts; runtime/src/doctor.ts passes them in), run after the host-wide ones. */
export type HostCheckSource = (options: HostCheckOptions) => Promise<HostCheck[]> | HostCheck[];

export async function runHostChecks(
  options: HostCheckOptions = {},
  sources: readonly HostCheckSource[] = [],
): Promise<HostReport> {
  const uidBase = options.uidBase ?? DEFAULT_UID_BASE;
  const checks: HostCheck[] = [checkRoot()];
  for (const source of sources) checks.push(...(await source(options)));
  checks.push(
    checkUidRange(uidBase),
    checkDisk('state directory free space', options.stateDir ?? '/var/lib/mitos'),
    checkDisk('template cache free space', cacheDirOf(options)),
  );
  return { checks, ok: checks.every((c) => c.ok) };
}

export function cacheDirOf(options: HostCheckOptions): string {
  return options.cacheDir ?? process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos';
}

function checkRoot(): HostCheck {
  const uid = process.getuid?.();
  return uid === 0
    ? { name: 'root', ok: true, detail: 'running as root' }
    : {
        name: 'root',
        ok: false,
        detail: `running as uid ${uid}; namespaces, cgroups and loop mounts need root`,
        fix: 'run `sudo mitos serve`',
      };
}

/**
 * Sandbox files are owned by host ids uidBase..uidBase+65535; a real user or group with an id
 * there, or a subordinate range overlapping it, could read and write them from the host.
 */
export function findUidRangeConflicts(
  uidBase: number,
  files: { passwd: string; group: string; subuid: string; subgid: string },
): string[] {
  const end = uidBase + UID_RANGE_SIZE;
  const inRange = (id: number): boolean => id >= uidBase && id < end;
  const conflicts: string[] = [];
  for (const [label, text] of [
    ['user', files.passwd],
    ['group', files.group],
  ] as const) {
    for (const line of text.split('\n')) {
      const [entry, , id] = line.split(':');
      if (entry && id !== undefined && inRange(Number(id))) conflicts.push(`${label} ${entry} has id ${id}`);
    }
  }
  for (const [label, text] of [
    ['subuid', files.subuid],
    ['subgid', files.subgid],
  ] as const) {
    for (const line of text.split('\n')) {
      const [entry, start, count] = line.split(':');
      const s = Number(start);
      const c = Number(count);
      if (entry && Number.isFinite(s) && Number.isFinite(c) && s < end && s + c > uidBase) {
        conflicts.push(`/etc/${label} gives ${entry} ${s}-${s + c - 1}`);
      }
    }
  }
  return conflicts;
}

function checkUidRange(uidBase: number): HostCheck {
  const name = 'sandbox uid range';
  const range = `${uidBase}-${uidBase + UID_RANGE_SIZE - 1}`;
  const conflicts = findUidRangeConflicts(uidBase, {
    passwd: readOr('/etc/passwd', ''),
    group: readOr('/etc/group', ''),
    subuid: readOr('/etc/subuid', ''),
    subgid: readOr('/etc/subgid', ''),
  });
  if (conflicts.length === 0)
    return { name, ok: true, detail: `${range} is used by no user, group or subordinate range` };
  return {
    name,
    ok: false,
    detail: `${range} overlaps: ${conflicts.join('; ')}`,
    fix: 'move those ids (usermod -u / groupmod -g, or edit /etc/subuid and /etc/subgid), or give the server another uid base whose 65536 ids are unused',
  };
}

function checkDisk(name: string, path: string): HostCheck {
  let dir = resolve(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const st = statfsSync(dir);
    const free = st.bavail * st.bsize;
    const detail = `${(free / GiB).toFixed(1)} GiB free at ${dir} (for ${path})`;
    return free >= MIN_FREE_BYTES
      ? { name, ok: true, detail }
      : {
          name,
          ok: false,
          detail: `${detail}; need ${MIN_FREE_BYTES / GiB} GiB`,
          fix: `free space on that filesystem or point ${path} at a larger one`,
        };
  } catch (err) {
    return {
      name,
      ok: false,
      detail: `cannot stat ${dir}: ${(err as Error).message}`,
      fix: `create ${path} on a local filesystem`,
    };
  }
}

export function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
