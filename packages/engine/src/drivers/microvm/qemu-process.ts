/**
 * Starting one QEMU process, confined: it joins its own cgroup, drops to an unprivileged uid
 * and gid (with only the supplementary groups of the snapshot files it maps) before exec, and
 * QEMU's own seccomp sandbox denies spawning, privilege changes and resource control. All of
 * its host channels are socketpairs it inherits (see FD in qemu-args.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { which } from '../../host/which.js';
import { FD } from './qemu-args.js';
import { Qmp } from './qmp.js';

export interface Confinement {
  uid: number;
  gid: number;
  /** Supplementary groups: one per snapshot whose files this VM opens. */
  groups: number[];
  /** cgroup.procs files to join before exec (one per controller on cgroup v1). */
  cgroupProcs: string[];
}

export interface QemuProcess {
  readonly pid: number;
  readonly qmp: Qmp;
  /** The virtio-serial port's host end (the guest agent's mux). */
  readonly agent: Socket;
  readonly migrateIn: Socket;
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Last lines QEMU printed to stderr and the guest to its serial console (for errors). */
  diagnostics(): string;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

const KEEP_LOG_BYTES = 16 * 1024;

// Joins the cgroups as root, then becomes the VM's uid: the process is confined before QEMU
// allocates anything. setpriv clears the capability sets and sets no_new_privs.
const WRAPPER = [
  'IFS=:',
  'for f in $MITOS_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done',
  'unset MITOS_CGROUP_PROCS IFS',
  'exec "$@"',
].join('\n');

export interface SpawnOptions {
  qemuBinary?: string;
  args: string[];
  confinement: Confinement;
  /** Host file that receives the guest's serial console (appended). */
  consoleLog?: string;
}

export function qemuBinary(): string | undefined {
  return which(process.env.MITOS_QEMU ?? 'qemu-system-x86_64');
}

export function spawnQemu(opts: SpawnOptions): QemuProcess {
  const qemu = opts.qemuBinary ?? qemuBinary();
  if (!qemu) throw new Error('qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils)');
  const setpriv = which('setpriv');
  if (!setpriv) throw new Error('setpriv is not installed (util-linux)');
  const c = opts.confinement;
  const drop = [
    setpriv,
    `--reuid=${c.uid}`,
    `--regid=${c.gid}`,
    c.groups.length > 0 ? `--groups=${c.groups.join(',')}` : '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
    qemu,
  ];
  // stdio index = fd number in QEMU; every 'pipe' is a socketpair in libuv.
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'];
  const child: ChildProcess = spawn('/bin/sh', ['-c', WRAPPER, 'mitos-qemu', ...drop, ...opts.args], {
    stdio,
    detached: true,
    // The VM needs nothing from the server's environment (which may hold secrets).
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', MITOS_CGROUP_PROCS: c.cgroupProcs.join(':') },
  });
  if (child.pid === undefined) throw new Error(`cannot start ${qemu}`);
  const pipe = (fd: number) => child.stdio[fd] as Socket;
  let stderr = '';
  let console = '';
  pipe(2).setEncoding('utf8');
  pipe(2).on('data', (d: string) => {
    stderr = (stderr + d).slice(-KEEP_LOG_BYTES);
  });
  pipe(FD.console).on('data', (d: Buffer) => {
    console = (console + d.toString('utf8')).slice(-KEEP_LOG_BYTES);
    if (opts.consoleLog) {
      try {
        appendFileSync(opts.consoleLog, d);
      } catch {
        // a log that cannot be written must not break the VM
      }
    }
  });
  for (const fd of [FD.migrateIn, 2, FD.console]) pipe(fd).on('error', () => {});
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
  });
  const qmp = new Qmp(pipe(FD.qmp));
  pipe(FD.agent).on('error', () => {});
  return {
    pid: child.pid,
    qmp,
    agent: pipe(FD.agent),
    migrateIn: pipe(FD.migrateIn),
    exited,
    hasExited: () => exitedFlag,
    diagnostics: () => {
      const parts = [];
      if (stderr.trim()) parts.push(`qemu: ${stderr.trim().split('\n').slice(-8).join(' | ')}`);
      if (console.trim()) parts.push(`console: ${console.trim().split('\n').slice(-12).join(' | ')}`);
      return parts.join('; ') || 'no output';
    },
    kill: async () => {
      if (!exitedFlag) {
        try {
          process.kill(child.pid as number, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
      for (const fd of [1, 2, 3, 4, 5]) pipe(fd).destroy();
    },
  };
}
