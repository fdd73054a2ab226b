/**
 * Live fork of a running VM into copy-on-write children.
 *
 * A sandbox maps its template's RAM privately (share=off), so its own state is anonymous
 * memory inside its QEMU. To share that state with children it is first materialized into a
 * new RAM file: the stopped VM migrates everything into a helper QEMU whose RAM is that file
 * (share=on), which then saves device state only. That file, the device state and the
 * parent's disk overlay (now a frozen qcow2 layer) are the new snapshot.
 *
 * The hazard: if the parent kept running on a RAM file its children map, they would see its
 * writes. So nothing runs on a snapshot's file after it is taken: the parent is restored from
 * it exactly like each child, as one more copy-on-write mapping. Its agent session survives
 * (the guest was fenced, nothing was in flight), so its open streams and processes continue.
 */
import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { MuxSession } from '../../agent/mux.js';
import type { ResourceLimits } from '../../engine.js';
import { restoreInto } from './restore.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';
import { tracer } from './trace.js';
import type { VmFactory, VmHandle } from './vm-factory.js';

const FENCE_TIMEOUT_MS = 30_000;

/** The engine's view of a running sandbox VM that fork needs. */
export interface LiveVm {
  handle: VmHandle;
  session: MuxSession;
  limits: ResourceLimits;
  hostname: string;
  /** True while the parent's process is being swapped (its exit is expected). */
  replacing?: boolean;
}

export interface ForkCallbacks {
  /** The parent now runs in `handle` (restored from the fork snapshot). */
  onParentReplaced(handle: VmHandle): void;
  /** The parent could not be brought back after its process was gone. */
  onParentLost(err: Error): void;
}

export interface ForkTimings {
  snapshotMs: number;
  restoreMs: number;
  parentPausedMs: number;
}

export interface ForkResult {
  snapshot: Snapshot;
  children: { id: string; handle: VmHandle; session: MuxSession }[];
  /** snapshotMs: fence to sealed snapshot; restoreMs: parallel restores; parentPausedMs: fence
   *  until the parent answers again. */
  timings: ForkTimings;
}

/** Freeze `live` into a snapshot; see the file comment. Returns with the parent stopped and gone. */
async function snapshotParent(
  factory: VmFactory,
  snapshots: SnapshotStore,
  live: LiveVm,
  cb: ForkCallbacks,
): Promise<Snapshot> {
  const parent = live.handle;
  const base = parent.snapshot;
  if (!base) throw new Error('the VM has no snapshot lineage');
  const trace = tracer('fork');
  // The helper process starts while the guest drains its channels.
  const snap = snapshots.create('fork', base.memMiB, base.vcpus, base);
  snapshots.preallocate(snap);
  const helperReady = factory.materializer(snap, live.limits);
  helperReady.catch(() => {});
  let helper: VmHandle | undefined;
  try {
    await live.session.fence(FENCE_TIMEOUT_MS);
    trace('fenced');
    await parent.vm.stop();
    trace('stopped');
    helper = await helperReady;
    trace('helper ready');
    await parent.vm.migrateAllTo(helper.vm);
    trace('RAM migrated');
    const devices = await helper.vm.saveDevices();
    trace('devices saved');
    await factory.destroy(helper);
    helper = undefined;
    // Point of no return: the parent's process goes and its disk becomes the frozen layer.
    live.replacing = true;
    live.session.detach();
    await factory.destroy(parent, { keepDisk: true });
    renameSync(parent.disk, snap.disk);
    factory.removeDir(parent);
    snapshots.seal(snap, devices);
    snapshots.compact(snap, base);
    trace('sealed');
    return snap;
  } catch (err) {
    if (!helper) helper = await helperReady.catch(() => undefined);
    if (helper) await factory.destroy(helper).catch(() => {});
    snapshots.discard(snap);
    if (!live.replacing) {
      // Nothing was lost: let the parent continue where it stopped.
      await parent.vm.cont().catch(() => {});
      await live.session
        .resume({ mode: 'keep', hostname: '', token: '', seed: randomBytes(32) }, FENCE_TIMEOUT_MS)
        .catch(() => {});
    } else cb.onParentLost(err as Error);
    throw err;
  }
}

export async function forkVm(
  factory: VmFactory,
  snapshots: SnapshotStore,
  live: LiveVm,
  childIds: string[],
  cb: ForkCallbacks,
): Promise<ForkResult> {
  const t0 = performance.now();
  const snap = await snapshotParent(factory, snapshots, live, cb);
  const t1 = performance.now();
  // Parent and children restore in parallel, all from the same frozen instant.
  const targets = await Promise.allSettled(
    [live.hostname, ...childIds].map(() => factory.restoreTarget(snap, live.limits)),
  );
  const restored = await Promise.allSettled(
    targets.map(async (t, i) => {
      if (t.status === 'rejected') throw t.reason;
      const handle = t.value;
      const session = i === 0 ? live.session : new MuxSession();
      const started = performance.now();
      const id = i === 0 ? live.hostname : (childIds[i - 1] as string);
      try {
        await restoreInto(handle, snap, session, {
          // The parent keeps its channels, hostname and token; children start clean.
          mode: i === 0 ? 'keep' : 'reset',
          hostname: i === 0 ? '' : id,
          token: i === 0 ? '' : randomBytes(24).toString('hex'),
          seed: randomBytes(64),
          pidsMax: live.limits.pids,
        });
      } catch (err) {
        if (i > 0) session.close();
        await factory.destroy(handle).catch(() => {});
        throw err;
      }
      return { id, handle, session, readyAt: performance.now(), started };
    }),
  );
  const parent = restored[0] as PromiseSettledResult<{ handle: VmHandle; readyAt: number }>;
  if (parent.status === 'fulfilled') {
    live.handle = parent.value.handle;
    live.replacing = false;
    cb.onParentReplaced(parent.value.handle);
  } else cb.onParentLost(parent.reason as Error);
  const failed = restored.slice(1).find((r) => r.status === 'rejected');
  if (failed) {
    for (const r of restored.slice(1)) {
      if (r.status === 'fulfilled') {
        r.value.session.close();
        await factory.destroy(r.value.handle).catch(() => {});
      }
    }
    throw (failed as PromiseRejectedResult).reason;
  }
  const children = restored.slice(1).map((r) => (r as PromiseFulfilledResult<ForkResult['children'][number]>).value);
  const t2 = performance.now();
  const parentPausedMs = parent.status === 'fulfilled' ? parent.value.readyAt - t0 : Number.NaN;
  return { snapshot: snap, children, timings: { snapshotMs: t1 - t0, restoreMs: t2 - t1, parentPausedMs } };
}
