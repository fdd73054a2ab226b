/**
 * Starting a sandbox's init on a prepared root: in a fork slot claimed for it (fork-slots.ts),
 * else by a fresh launcher (launcher.ts); a restore (checkpoint/restore.ts) always launches.
 */
import { join } from 'node:path';
import { KERNELS_IN_SANDBOX } from '../../agent/kernels.js';
import type { CgroupManager, SandboxCgroup } from '../../cgroups/cgroup.js';
import type { Restorer } from '../../checkpoint/restore.js';
import type { Launched } from '../../core/driver.js';
import type { Spawner } from '../../host/spawner.js';
import { UID_RANGE_SIZE } from '../../host/uid-range.js';
import type { UidRanges } from '../../host/uid-ranges.js';
import type { SandboxRow } from '../../state/store.js';
import type { RootLayout } from '../../storage/storage.js';
import type { ForkSlots } from './fork-slots.js';
import { type LaunchSpec, launchSandbox, shmBytesFor } from './launcher.js';

export interface StartContext {
  stateDir: string;
  uidBase: number;
  agentPath: string;
  initPath: string;
  spawner: Spawner;
  seccompOptOut?: string[];
  uidRanges: UidRanges;
  cgroups: CgroupManager;
  slots?: ForkSlots;
  socketPath: string;
  logPath: string;
  log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
}

export function startSandbox(
  ctx: StartContext,
  row: SandboxRow,
  root: RootLayout,
  cgroup: SandboxCgroup,
  restore?: Restorer,
): Promise<Launched> {
  const slots = ctx.slots;
  const slot = restore ? undefined : slots?.take(row.cgroupKey);
  // The slot's uid range becomes the sandbox's, as its cgroups already are.
  if (slot) ctx.uidRanges.rename(slot.key, row.id);
  const spec = launchSpec(ctx, row, root, cgroup, restore);
  if (!slots || !slot) return launchSandbox(ctx.spawner, spec);
  return slots.use(slot, spec).catch((err: Error) => {
    // The slot's child is gone with its launcher: launch the sandbox afresh in its place.
    ctx.log('warn', 'fork slot failed; launching the child afresh', { sandbox: row.id, error: err.message });
    return launchSandbox(ctx.spawner, spec);
  });
}

function launchSpec(
  ctx: StartContext,
  row: SandboxRow,
  root: RootLayout,
  cgroup: SandboxCgroup,
  restore?: Restorer,
): LaunchSpec {
  const seccomp = !ctx.seccompOptOut?.includes(row.templateId);
  if (!seccomp) ctx.log('warn', 'sandbox runs without seccomp filter (template opted out)', { sandbox: row.id });
  const uidBase = ctx.uidRanges.allocate(row.id);
  return {
    agentPath: ctx.agentPath,
    initPath: ctx.initPath,
    sandboxId: row.id,
    hostname: row.hostname,
    socketPath: ctx.socketPath,
    logPath: ctx.logPath,
    // Every layer is idmapped from the on-disk range into the sandbox's own.
    uidBase,
    diskBase: ctx.uidBase,
    uidCount: UID_RANGE_SIZE,
    seccomp,
    root,
    cgroupProcsFiles: cgroup.procsFiles,
    // A restore attaches in launch-restore.c, which does not prime.
    cgroupPrimeFile: restore ? undefined : ctx.cgroups.primeFile,
    bindReadOnly: [`${join(ctx.stateDir, 'kernels')}:${KERNELS_IN_SANDBOX}`],
    shmBytes: shmBytesFor(row.limits.memoryBytes),
    restore: restore?.(uidBase),
  };
}
