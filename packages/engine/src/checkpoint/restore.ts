/**
 * The second half of a fork that carries processes: the CRIU command the launcher runs
 * (`mitos-agent launch --restore-pidfile`, packages/agent/src/launch-restore.c) once it has
 * built the child's own root at a real path of its private mount namespace. CRIU binds that
 * path as the restored mount namespace's root; everything mounted on it (/proc, /dev, the
 * host's read-only binds) it rebuilds from the images, the host binds from their recorded host
 * sources (`--ext-mount-map auto`, the dump recorded them with `--external mnt[]`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { MitosError } from '@mitos/protocol';
import { criuFailure } from './dump.js';

/** The descriptors on which the launcher hands CRIU a stand-in for the parent agent's socket
 * and the images directory (launch-restore.c). */
export const RESTORE_INHERIT_FD = 3;
export const RESTORE_IMAGES_FD = 4;

/** What the launcher is given to restore a child (LaunchSpec.restore, launch-restore.c). */
export interface RestoreLaunch {
  criuArgv: string[];
  pidfile: string;
  imagesDir: string;
  /** Where the external mounts' sources are staged, and each key's host source. */
  extRoot: string;
  external: Readonly<Record<string, string>>;
}

/** A restored fork child's launch, given the child's uid range (checkpoint/carry.ts). */
export type Restorer = (uidBase: number) => RestoreLaunch;

export interface RestoreTarget {
  /** Where the launcher stages the keyed external mounts' sources (in its own mount namespace only). */
  extRoot: string;
  /** Keyed external mounts (KEYED_EXTERNAL_MOUNTS): key to host source. */
  externalMounts: Readonly<Record<string, string>>;
  /** The child's prepared root, as the launcher mounts it (LaunchSpec.root.rootfs). */
  rootfs: string;
  /** Inodes of the unix sockets the dump recorded as external (DumpResult.externalSockets). */
  externalSockets: readonly string[];
  /** The restored init's host pid (under extRoot: the launcher's own). */
  pidfile: string;
  /**
   * The agent program as CRIU's action script, where the checkpoint holds a loopback
   * connection (it brings loopback up before sockets are restored: launch-restore-hook.c).
   */
  actionScript: string | undefined;
}

export function restoreArgs(target: RestoreTarget): string[] {
  return [
    'restore',
    '-D',
    `/proc/self/fd/${RESTORE_IMAGES_FD}`,
    '--root',
    target.rootfs,
    // Detached: CRIU exits once the tree runs, and the launcher (a subreaper) becomes its parent.
    '--restore-detached',
    // Stopped: the launcher replaces the restored agent before anything runs (launch-restore.c).
    '--leave-stopped',
    '--tcp-established',
    // The dump holds no network configuration (dump.ts): the action script brings loopback up
    // once the namespace exists, before loopback connections are restored into it; without
    // one to restore, the fresh agent brings it up (launch-restore.c).
    '--empty-ns',
    'net',
    ...(target.actionScript ? ['--action-script', target.actionScript] : []),
    // Nothing reaches a fresh namespace with loopback alone while it is restored: no firewall
    // rules to lock the connections with (CRIU would run iptables or nft in it, and again to unlock).
    '--network-lock',
    'skip',
    ...['mitos-dev', ...Object.keys(target.externalMounts)].flatMap((key) => [
      '--ext-mount-map',
      `${key}:${target.extRoot}/${key}`,
    ]),
    '--ext-mount-map',
    'auto',
    // The launcher put CRIU in the child's cgroups; the restored tree stays there.
    '--manage-cgroups=ignore',
    ...target.externalSockets.flatMap((inode) => ['--inherit-fd', `fd[${RESTORE_INHERIT_FD}]:socket:[${inode}]`]),
    '--pidfile',
    target.pidfile,
    // /opt/mitos/init is a readable copy of the 0711 program the tree was started from
    // (mappableInitProgram): the same bytes, another mode.
    '--skip-file-rwx-check',
    // In the images directory (CRIU's work directory).
    '-o',
    'restore.log',
    '-v2',
  ];
}

/** A failed restore as the fork's error, with what CRIU's log says. */
export function restoreFailure(err: unknown, logFile: string): MitosError {
  const why = existsSync(logFile) ? `; criu: ${criuFailure(readFileSync(logFile, 'utf8'))}` : '';
  return new MitosError(
    'internal',
    `restore of the parent's processes into a child failed: ${err instanceof Error ? err.message : String(err)}${why}`,
    {},
    { remediation: 'fork with processes "none" (files and interpreter state); the parent is unchanged' },
  );
}
