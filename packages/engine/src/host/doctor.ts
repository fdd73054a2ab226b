/**
 * `mitos doctor`: can this host run sandboxes, and if not, what exactly to do about it.
 * Every check is read-only (the user-namespace probe runs `true` in a throwaway namespace).
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { probeCgroups } from '../drivers/linux/cgroups.js';
import { microvmHostCheck } from '../drivers/microvm/doctor.js';
import { probeBtrfs } from '../storage/probe.js';
import { tryRun } from './run.js';
import { DEFAULT_UID_BASE, UID_RANGE_SIZE } from './uid-range.js';
import { which } from './which.js';

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

export async function runHostChecks(options: HostCheckOptions = {}): Promise<HostReport> {
  const uidBase = options.uidBase ?? DEFAULT_UID_BASE;
  const checks: HostCheck[] = [
    checkRoot(),
    await checkUserNamespaces(),
    checkCgroups(),
    await checkStorage(),
    checkTool('debootstrap', 'debootstrap', 'builds template root filesystems', 'apt-get install debootstrap'),
    await checkCompiler(),
    checkUidRange(uidBase),
    checkDisk('state directory free space', options.stateDir ?? '/var/lib/mitos'),
    checkDisk('template cache free space', options.cacheDir ?? process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos'),
    microvmHostCheck(options.cacheDir ?? process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos'),
  ];
  return { checks, ok: checks.every((c) => c.ok) };
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

async function checkUserNamespaces(): Promise<HostCheck> {
  const name = 'user namespaces';
  const max = Number(readOr('/proc/sys/user/max_user_namespaces', '0').trim());
  if (!(max > 0))
    return {
      name,
      ok: false,
      detail: `user.max_user_namespaces is ${max}`,
      fix: 'sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/)',
    };
  if (!which('unshare')) return { name, ok: false, detail: 'unshare not found', fix: 'apt-get install util-linux' };
  const res = await tryRun('unshare', ['--user', '--map-root-user', 'true'], { timeoutMs: 10_000 });
  if (!res.ok) {
    return {
      name,
      ok: false,
      detail: `unshare --user failed: ${(res.error as Error).message}`,
      fix: 'sysctl -w kernel.unprivileged_userns_clone=1 (Debian < 11) or kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu >= 23.10)',
    };
  }
  return { name, ok: true, detail: `usable (max_user_namespaces=${max})` };
}

function checkCgroups(): HostCheck {
  const name = 'cgroups';
  const support = probeCgroups();
  if (support.version === undefined) {
    return {
      name,
      ok: false,
      detail: 'no cgroup v2 hierarchy at /sys/fs/cgroup and no v1 memory controller',
      fix: 'mount cgroup2 at /sys/fs/cgroup (systemd.unified_cgroup_hierarchy=1 on the kernel command line)',
    };
  }
  if (support.missing.length > 0) {
    const fix =
      support.version === 'v2'
        ? `echo "+${support.missing.join(' +')}" > /sys/fs/cgroup/cgroup.subtree_control (or enable them in the server's systemd unit with Delegate=yes)`
        : `mount the missing v1 hierarchies, e.g. mkdir -p /sys/fs/cgroup/${support.missing[0]} && mount -t cgroup -o ${support.missing[0]} cgroup /sys/fs/cgroup/${support.missing[0]}`;
    return {
      name,
      ok: false,
      detail: `cgroup ${support.version}: missing ${support.missing.join(', ')} (have ${support.controllers.join(', ') || 'none'})`,
      fix,
    };
  }
  return { name, ok: true, detail: `cgroup ${support.version} with ${support.controllers.join(', ')}` };
}

async function checkStorage(): Promise<HostCheck> {
  const name = 'storage';
  const btrfs = probeBtrfs();
  if (btrfs.ok) {
    // Asks the kernel for a free loop device without attaching anything.
    const free = await tryRun('losetup', ['--find'], { timeoutMs: 10_000 });
    if (free.ok && free.stdout.startsWith('/dev/loop'))
      return { name, ok: true, detail: `btrfs snapshots: ${btrfs.detail}` };
    btrfs.ok = false;
    btrfs.detail = 'no free loop device (losetup --find failed)';
    btrfs.fix = 'modprobe loop, or give the container /dev/loop-control and the loop devices';
  }
  const overlay = /\soverlay$/m.test(readOr('/proc/filesystems', '')) || existsSync('/sys/module/overlay');
  if (overlay) {
    return {
      name,
      ok: true,
      detail: `overlay fallback (forks copy the sandbox's writes; btrfs unavailable: ${btrfs.detail})`,
      fix: btrfs.fix,
    };
  }
  return {
    name,
    ok: false,
    detail: `neither btrfs (${btrfs.detail}) nor overlayfs is available`,
    fix: `${btrfs.fix ?? 'apt-get install btrfs-progs'}; or modprobe overlay`,
  };
}

function checkTool(name: string, command: string, why: string, fix: string): HostCheck {
  const path = which(command);
  return path
    ? { name, ok: true, detail: `${path} (${why})` }
    : { name, ok: false, detail: `${command} not found (${why})`, fix };
}

// The agent is a static binary so it runs inside any root filesystem; that needs libc.a.
async function checkCompiler(): Promise<HostCheck> {
  const name = 'agent compiler';
  const fix = 'apt-get install gcc libc6-dev';
  if (!which('cc')) return { name, ok: false, detail: 'no C compiler (cc) to build the static mitos-agent', fix };
  const res = await tryRun('cc', ['-print-file-name=libc.a']);
  const libc = res.stdout.trim();
  if (!res.ok || !libc.startsWith('/') || !existsSync(libc))
    return { name, ok: false, detail: 'cc found but no static libc (libc.a)', fix };
  return { name, ok: true, detail: `cc with static libc at ${resolve(libc)}` };
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

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
