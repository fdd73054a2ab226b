/**
 * The filesystem half of a (not carried) fork: the parent's root snapshotted once for every
 * child, frozen when asked so all children see one instant, with the children's cgroups made
 * while the kernel commits the snapshot.
 */
import type { CgroupManager, SandboxCgroup } from '../../cgroups/cgroup.js';
import type { SandboxRow } from '../../state/store.js';
import type { RootLayout, SandboxStorage } from '../../storage/storage.js';
import type { ForkSlots } from './fork-slots.js';

export interface SnapshotChildrenContext {
  storage: SandboxStorage;
  cgroups: CgroupManager;
  /** The driver's cgroup handles by sandbox id: each child's is registered here. */
  handles: Map<string, SandboxCgroup>;
  parentCgroup: SandboxCgroup;
  slots?: ForkSlots;
}

/** A child's cgroup, made with its limits and registered with the driver. */
export async function childCgroup(
  cgroups: CgroupManager,
  handles: Map<string, SandboxCgroup>,
  row: SandboxRow,
): Promise<SandboxCgroup> {
  const cgroup = await cgroups.create(row.cgroupKey, row.limits);
  handles.set(row.id, cgroup);
  return cgroup;
}

/** A child in a claimed fork slot keeps the slot's cgroup, given the child's limits now. */
function slotCgroup(ctx: SnapshotChildrenContext, row: SandboxRow): Promise<SandboxCgroup> | undefined {
  if (!ctx.slots?.isSlotKey(row.cgroupKey)) return undefined;
  const cgroup = ctx.cgroups.open(row.cgroupKey);
  if (!cgroup) return undefined;
  ctx.handles.set(row.id, cgroup);
  return cgroup.setLimits(row.limits).then(() => cgroup);
}

export async function snapshotChildren(
  ctx: SnapshotChildrenContext,
  parentId: string,
  children: SandboxRow[],
  pauseSource: boolean,
): Promise<RootLayout[]> {
  // Frozen, the parent's files are one consistent instant for every child; running on, each
  // child root is still an atomic snapshot, but of its own instant.
  if (pauseSource) await ctx.parentCgroup.freeze();
  try {
    const [snapshot, cgroups] = await Promise.allSettled([
      ctx.storage.snapshotRoots(
        parentId,
        children.map((c) => c.id),
      ),
      Promise.all(children.map((row) => slotCgroup(ctx, row) ?? childCgroup(ctx.cgroups, ctx.handles, row))),
    ]);
    if (snapshot.status === 'rejected') throw snapshot.reason;
    if (cgroups.status === 'rejected') throw cgroups.reason;
    return snapshot.value;
  } finally {
    if (pauseSource) await ctx.parentCgroup.thaw();
  }
}
