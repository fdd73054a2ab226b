/**
 * Warm VMs: what the restore pool holds. A VM restored from its template snapshot pays, on its
 * first operation, for more than the restore itself: the agent's resume, and under TCG the
 * first command in a fresh QEMU, whose translation cache is empty (the guest's fork/exec path
 * and /bin/sh are translated anew). A warm VM has paid all of it ahead: restored, resumed, one
 * command run, then fenced and stopped (no guest CPU while it waits, the translation cache
 * kept). Handing it out is `cont` and a `reset` resume with the sandbox's own identity (wall
 * clock, hostname, token, entropy reseed, pids limit), exactly what a cold restore sends; the
 * reset also drops whatever channel the warm-up left. The warm-up ran as nobody's sandbox:
 * nothing of a previous use can remain, because there was none.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../agent/client.js';
import { MuxSession, type ResumeOptions } from '../../agent/mux.js';
import type { ResourceLimits } from '../../engine.js';
import { type Poolable, RestorePool } from './pool.js';
import { ChannelProxy } from './proxy.js';
import { restoreInto } from './restore.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';
import type { VmFactory, VmHandle } from './vm-factory.js';

/** The warm-up: sh and one external binary (ld.so, libc) through the mux's exec path. */
export const WARM_UP_COMMAND = '/bin/true';
const WARM_UP_TIMEOUT_MS = 120_000;
const FENCE_TIMEOUT_MS = 30_000;
const RESUME_TIMEOUT_MS = 60_000;

export interface WarmVm extends Poolable {
  handle: VmHandle;
  session: MuxSession;
  /** The nice value its QEMU started with, given back at the hand-out. */
  priority: number;
}

/** Every thread of `pid` (QEMU's vCPU and I/O threads are tasks of their own). */
function reprioritize(pid: number, priority: number): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // gone: the pool drops it when it is taken
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), priority);
    } catch {
      // a thread that just exited
    }
  }
}

/** Restore a VM of `snap`, run the warm-up in it, fence and stop it. */
export async function makeWarmVm(
  factory: VmFactory,
  snap: Snapshot,
  limits: ResourceLimits,
  runDir: string,
): Promise<WarmVm> {
  const handle = await factory.restoreTarget(snap, limits);
  // Made in the background: it must not take the CPU from sandboxes at work, so its QEMU runs
  // at the lowest priority until it is handed out.
  const priority = getPriority(handle.vm.pid);
  reprioritize(handle.vm.pid, 19);
  const session = new MuxSession();
  let proxy: ChannelProxy | undefined;
  let client: AgentClient | undefined;
  try {
    // No identity yet: the template's hostname and token stay until the hand-out replaces them.
    await restoreInto(handle, snap, session, {
      mode: 'reset',
      hostname: '',
      token: '',
      seed: randomBytes(64),
      pidsMax: limits.pids,
    });
    proxy = await ChannelProxy.listen(join(runDir, `${handle.key}.sock`), session);
    client = new AgentClient(proxy.path, handle.key);
    const r = await client.exec({ command: WARM_UP_COMMAND, timeoutMs: WARM_UP_TIMEOUT_MS, cwd: '/' });
    if (r.exitCode !== 0) throw new Error(`the warm-up command exited ${r.exitCode}: ${r.stderr.toString()}`);
    client.close();
    client = undefined;
    await proxy.close();
    proxy = undefined;
    await session.fence(FENCE_TIMEOUT_MS);
    await handle.vm.stop();
    return { handle, session, priority, alive: () => handle.alive() };
  } catch (err) {
    client?.close();
    await proxy?.close().catch(() => {});
    session.close();
    await factory.destroy(handle).catch(() => {});
    throw err;
  }
}

/**
 * Continue a warm VM as a new sandbox with `identity` (a `reset` resume) under `hostLimits`
 * (the pooled VM's cgroup was made with the template's limits; a create may ask for others).
 */
export async function handOut(
  vm: WarmVm,
  identity: Omit<ResumeOptions, 'mode'>,
  hostLimits: ResourceLimits,
): Promise<void> {
  await vm.handle.cgroup.setLimits(hostLimits);
  reprioritize(vm.handle.vm.pid, vm.priority);
  await vm.handle.vm.cont();
  await vm.session.resume({ ...identity, mode: 'reset' }, RESUME_TIMEOUT_MS);
}

export async function disposeWarmVm(factory: VmFactory, vm: WarmVm): Promise<void> {
  vm.session.close();
  await factory.destroy(vm.handle);
}

/** The engine's pool: `size` warm VMs per template snapshot, made in the background. */
export function warmVmPool(
  size: number,
  deps: {
    factory: VmFactory;
    snapshots: SnapshotStore;
    limitsOf: (snapId: string) => ResourceLimits;
    runDir: string;
    onError: (err: Error) => void;
  },
): RestorePool<WarmVm> {
  return new RestorePool<WarmVm>(
    size,
    async (snapId) => {
      const snap = deps.snapshots.list().find((s) => s.id === snapId);
      if (!snap) throw new Error(`snapshot ${snapId} is gone`);
      return makeWarmVm(deps.factory, snap, deps.limitsOf(snapId), deps.runDir);
    },
    (w) => disposeWarmVm(deps.factory, w),
    deps.onError,
  );
}
