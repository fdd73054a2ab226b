/**
 * An OCI runtime bundle around the cached python rootfs, configured like a mitos sandbox: a user
 * namespace mapping container root to the sandbox uid range, fresh pid/net/ipc/uts/mount/cgroup
 * namespaces, the template's cgroup limits, the usual masked /proc paths. The rootfs is used in
 * place and read-only, so every mount target must already exist in it (runc would otherwise
 * create missing ones in the shared cache).
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundleSpec {
  rootfs: string;
  args: string[];
  uidBase: number;
  uidCount: number;
  /** cgroup path relative to each hierarchy's root, e.g. `/mitos-bench-x-oci/runc-echo`. */
  cgroupsPath: string;
  limits: { memoryBytes: number; pids: number; cpus: number };
}

const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

const MASKED = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const CPU_PERIOD_US = 100_000;

export function ociConfig(spec: BundleSpec): Record<string, unknown> {
  const idMap = [{ containerID: 0, hostID: spec.uidBase, size: spec.uidCount }];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'],
      cwd: '/',
      noNewPrivileges: true,
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
    },
    root: { path: spec.rootfs, readonly: true },
    hostname: 'bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ],
    linux: {
      uidMappings: idMap,
      gidMappings: idMap,
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'user', 'cgroup'].map((type) => ({ type })),
      cgroupsPath: spec.cgroupsPath,
      resources: {
        memory: { limit: spec.limits.memoryBytes },
        pids: { limit: spec.limits.pids },
        cpu: { quota: Math.round(spec.limits.cpus * CPU_PERIOD_US), period: CPU_PERIOD_US },
      },
      maskedPaths: MASKED,
      readonlyPaths: READONLY,
    },
  };
}

/** Mount targets on the read-only rootfs that are missing (the bundle cannot be used then). */
export function missingMountTargets(rootfs: string): string[] {
  return ['proc', 'dev', 'sys', 'tmp'].filter((d) => !existsSync(join(rootfs, d)));
}

export function writeBundle(dir: string, spec: BundleSpec): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(ociConfig(spec), null, 2)}\n`);
  return dir;
}
