/**
 * `mitos doctor` lines of the Linux namespaces driver: user namespaces, cgroups, storage, and
 * the tools that build templates and the agent.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { probeCgroups } from '../../cgroups/detect.js';
import { CRIU_PIN, criuVersion, findCriu } from '../../host/criu.js';
import { type HostCheck, readOr } from '../../host/doctor.js';
import { tryRun } from '../../host/run.js';
import { defaultCacheDir } from '../../host/state-dir.js';
import { which } from '../../host/which.js';
import { probeBtrfs } from '../../storage/probe.js';

export async function linuxHostChecks(): Promise<HostCheck[]> {
  return [
    await checkUserNamespaces(),
    checkCgroups(),
    await checkStorage(),
    checkTool('debootstrap', 'debootstrap', 'builds template root filesystems', 'apt-get install debootstrap'),
    await checkCompiler(),
    await checkCriu(),
    checkTool('nftables', 'nft', 'enforces sandbox network postures other than deny', 'apt-get install nftables'),
    checkForwarding(),
  ];
}

/** Sandbox links are routed to the uplink; the server turns forwarding on (logged) when a posture first opens. */
function checkForwarding(): HostCheck {
  const v4 = readOr('/proc/sys/net/ipv4/ip_forward', '0').trim() === '1';
  const v6 = readOr('/proc/sys/net/ipv6/conf/all/forwarding', '0').trim() === '1';
  return {
    name: 'ip forwarding',
    ok: true,
    detail:
      v4 && v6
        ? 'on (IPv4 and IPv6)'
        : 'off: the server turns it on when a sandbox first gets egress (and off again when its last sandbox network goes); to set it yourself: sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1',
  };
}

/** A fork that carries processes checkpoints them with the pinned CRIU that setup installs. */
async function checkCriu(): Promise<HostCheck> {
  const name = 'criu';
  const fix = 'node scripts/setup.mjs as root (installs the pinned CRIU from Debian forky)';
  const found = findCriu(defaultCacheDir());
  if ('missing' in found) return { name, ok: false, detail: found.missing, fix };
  const version = await criuVersion(found.tool);
  if (!version) return { name, ok: false, detail: `criu in ${found.tool.tree} does not run`, fix };
  return {
    name,
    ok: true,
    detail: `CRIU ${version} (Debian ${CRIU_PIN.suite} ${CRIU_PIN.version}) in ${found.tool.tree}`,
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
