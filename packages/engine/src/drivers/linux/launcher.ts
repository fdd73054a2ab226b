/**
 * Starts a sandbox by running `mitos-agent launch` (packages/agent) as host root. The launcher
 * prints the sandbox init's host pid once its agent is serving and stays behind as the init's
 * supervisor, detached from the server so the sandbox survives a server restart. It is started
 * by the engine's spawner (host/spawner.ts), not by the server itself.
 */
import { chmodSync, copyFileSync, existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import type { RestoreLaunch } from '../../checkpoint/restore.js';
import { processStartTicks } from '../../host/proc.js';
import type { Spawner } from '../../host/spawner.js';
import type { RootLayout } from '../../storage/storage.js';

export interface LaunchSpec {
  agentPath: string;
  /** The init's program (installInitProgram), bound into the sandbox and exec'd as its pid 1. */
  initPath: string;
  sandboxId: string;
  hostname: string;
  socketPath: string;
  logPath: string;
  /** Host uid/gid of sandbox root (its own range). */
  uidBase: number;
  /** The ids the root's files carry on disk; when not uidBase, the root is idmapped. */
  diskBase?: number;
  uidCount: number;
  /** false: no seccomp filter (a template's logged opt-out). */
  seccomp?: boolean;
  root: RootLayout;
  cgroupProcsFiles: string[];
  /** The engine's own cgroup.procs: the launcher primes the attach with it (cgroups/attach-prime.ts). */
  cgroupPrimeFile?: string;
  /** `HOSTDIR:SANDBOXDIR` pairs bind-mounted read-only into the sandbox. */
  bindReadOnly?: string[];
  /** Size of the sandbox's /dev/shm tmpfs (default 256 MiB); see shmBytesFor. */
  shmBytes?: number;
  /** Restore a checkpoint into the prepared root instead of starting a fresh init (checkpoint/restore.ts). */
  restore?: RestoreLaunch;
}

const MAX_SHM_BYTES = 256 * 1024 * 1024;

/**
 * /dev/shm pages are charged to the sandbox's memory cgroup but belong to no process, so the
 * OOM killer cannot free them: a full /dev/shm at the memory limit left only the agent to kill,
 * and every later request failed. A quarter of the limit always leaves room to run `rm`.
 */
export function shmBytesFor(memoryBytes: number): number {
  return Math.max(1024 * 1024, Math.min(MAX_SHM_BYTES, Math.floor(memoryBytes / 4)));
}

export interface LaunchedSandbox {
  initPid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live init from a recycled pid after a restart. */
  initStartTicks: string;
  supervisorPid: number;
}

const LAUNCH_TIMEOUT_MS = 30_000;

export function launchArgs(spec: LaunchSpec): string[] {
  const args = ['launch', ...rootArgs(spec), '--uid-base', String(spec.uidBase), '--uid-count', String(spec.uidCount)];
  for (const f of spec.cgroupProcsFiles) args.push('--cgroup-procs', f);
  if (spec.cgroupPrimeFile) args.push('--cgroup-prime', spec.cgroupPrimeFile);
  if (spec.restore) {
    const r = spec.restore;
    args.push('--restore-pidfile', r.pidfile, '--restore-images', r.imagesDir, '--restore-ext-root', r.extRoot);
    for (const [key, source] of Object.entries(r.external)) args.push('--restore-ext', `${key}:${source}`);
    args.push('--', ...r.criuArgv);
  }
  return args;
}

/**
 * What a launch needs beyond the child's uid range and cgroups: the sandbox's identity and its
 * root. A fork slot (fork-slots.ts) gets only these, when a fork takes it.
 */
export function rootArgs(spec: LaunchSpec): string[] {
  const args = [
    '--id',
    spec.sandboxId,
    '--hostname',
    spec.hostname,
    '--socket',
    spec.socketPath,
    '--log',
    spec.logPath,
    '--rootfs',
    spec.root.rootfs,
    '--init',
    spec.initPath,
  ];
  if (spec.root.kind === 'overlay') {
    args.push(
      '--overlay-lower',
      spec.root.lowerdirs.join(':'),
      '--overlay-upper',
      spec.root.upperdir,
      '--overlay-work',
      spec.root.workdir,
    );
  }
  for (const b of spec.bindReadOnly ?? []) args.push('--bind-ro', b);
  if (spec.shmBytes !== undefined) args.push('--shm-bytes', String(spec.shmBytes));
  if (spec.diskBase !== undefined) args.push('--disk-base', String(spec.diskBase));
  if (spec.seccomp === false) args.push('--no-seccomp');
  return args;
}

export function launchSandbox(spawner: Spawner, spec: LaunchSpec): Promise<LaunchedSandbox> {
  return startLauncher(spawner, spec.agentPath, launchArgs(spec).slice(1), spec.sandboxId);
}

/**
 * Run `mitos-agent launch` with `args` (on its stdin): resolves once it prints the child's host
 * pid, leaving the launcher running on as the child's supervisor.
 */
export function startLauncher(
  spawner: Spawner,
  agentPath: string,
  args: string[],
  sandboxId: string,
): Promise<LaunchedSandbox> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    };
    // Arguments on stdin: they name the sandbox and its storage paths, and any host user can
    // read a command line.
    const child = spawner.spawn(
      agentPath,
      ['launch', '-'],
      {
        stdin: nulSeparated(args),
        // Detached, so the sandbox survives a server restart.
        detached: true,
        // The sandbox init inherits this environment and /proc/1/environ is readable inside the
        // sandbox: never pass the server's own (it may hold API keys).
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      },
      {
        onStderr: (d) => {
          err += d;
        },
        onStdout: (d) => {
          out += d;
          const nl = out.indexOf('\n');
          if (nl < 0 || settled) return;
          const pid = Number(out.slice(0, nl));
          settled = true;
          clearTimeout(timer);
          // The supervisor lives on; the server must neither wait for it nor keep its pipes open.
          child.release();
          child.pid.then(
            (supervisorPid) => {
              try {
                resolve({ initPid: pid, initStartTicks: processStartTicks(pid) ?? '', supervisorPid });
              } catch (e) {
                reject(e);
              }
            },
            (e) => reject(e),
          );
        },
        onExit: ({ code }) =>
          fail(
            new MitosError('internal', `sandbox launch failed (exit ${code}): ${err.trim() || 'no detail'}`, {
              sandbox: sandboxId,
            }),
          ),
        onError: (e) =>
          fail(
            e instanceof MitosError
              ? e
              : new MitosError('host_unsupported', `cannot run ${agentPath}: ${e.message}`, {
                  sandbox: sandboxId,
                }),
          ),
      },
    );
    const timer = setTimeout(() => {
      fail(
        new MitosError('internal', `sandbox launch timed out after ${LAUNCH_TIMEOUT_MS} ms`, {
          sandbox: sandboxId,
        }),
      );
      child.kill('SIGKILL');
    }, LAUNCH_TIMEOUT_MS);
  });
}

/**
 * The program every sandbox's pid 1 execs from inside the sandbox (the launcher binds it at
 * /opt/mitos/init), so the sandbox's process tree maps nothing from outside and can be
 * checkpointed whole. A copy of the agent that only root may read (0711): an exec of a file its
 * own root cannot read leaves the init non-dumpable, closed to ptrace and /proc from inside.
 */
export function installInitProgram(agentPath: string, stateDir: string): string {
  const target = join(stateDir, 'mitos-init');
  const tmp = `${target}.${process.pid}.tmp`;
  copyFileSync(agentPath, tmp);
  chmodSync(tmp, 0o711);
  renameSync(tmp, target);
  return target;
}

/**
 * A readable copy of the init program, beside it in the root-only state directory: a restored
 * sandbox's processes (its pid 1) map their code from /opt/mitos/init, and CRIU opens that file
 * from inside the child's user namespace, which cannot read the 0711 one. The child's fresh
 * agent is still exec'd from the unreadable program (launch-restore.c).
 */
export function mappableInitProgram(initPath: string): string {
  const target = `${initPath}.mappable`;
  // Older than the program means copied from an earlier install (each engine open writes the
  // program anew, and a rebuilt agent may keep its size): copy again.
  if (!existsSync(target) || statSync(target).mtimeMs < statSync(initPath).mtimeMs) {
    const tmp = `${target}.${process.pid}.tmp`;
    copyFileSync(initPath, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, target);
  }
  return target;
}

/** Arguments for `mitos-agent COMMAND -`, which reads them from stdin. */
export function nulSeparated(args: string[]): string {
  return args.map((a) => `${a}\0`).join('');
}

function runWithStdin(spawner: Spawner, file: string, args: string[], input: string): Promise<void> {
  return spawner.run(file, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, stdin: input }).then(() => {});
}

/** Deletes a btrfs subvolume by the agent's ioctl; false when that fails (the caller's slow path
 * then deals with nested or read-only subvolumes). */
export async function agentSubvolumeDelete(spawner: Spawner, agentPath: string, path: string): Promise<boolean> {
  return runWithStdin(spawner, agentPath, ['subvol-delete', '-'], nulSeparated([path])).then(
    () => true,
    () => false,
  );
}

/** Writable btrfs snapshots of `source` at each target, by the agent's ioctl, in one process. */
export async function agentSnapshots(
  spawner: Spawner,
  agentPath: string,
  source: string,
  targets: string[],
): Promise<void> {
  try {
    await runWithStdin(spawner, agentPath, ['snapshot', '-'], nulSeparated([source, ...targets]));
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || String(err);
    const code = /No space left|Disk quota/.test(detail) ? 'disk_full' : 'internal';
    throw new MitosError(code, `snapshot failed: ${detail}`);
  }
}
