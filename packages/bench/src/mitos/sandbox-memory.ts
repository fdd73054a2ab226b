/**
 * What one sandbox costs in memory: the USS of every task in its cgroup plus its host-side
 * supervisor (`mitos-supervise`, outside the cgroup, the parent of the sandbox's init), and the
 * cgroup's own usage figure (which also charges page cache the sandbox touched).
 * @module
 */
import { type CgroupMemoryBreakdown, cgroupMemoryBreakdown } from '../host/cgroup-memory.js';
import { parentPid, processName, ussBytes } from '../host/proc-memory.js';
import type { BenchEnv } from './bench-env.js';

export interface ProcessMemory {
  pid: number;
  name: string;
  role: 'sandbox' | 'supervisor';
  ussBytes: number;
}

export interface SandboxMemory {
  ussBytes: number;
  cgroupBytes: number;
  /** The cgroup's usage split into anon / file cache / kernel, where the host reports it. */
  breakdown?: CgroupMemoryBreakdown;
  processes: ProcessMemory[];
}

/**
 * A sandbox's cgroups are named by a key that does not change when a pooled sandbox is handed
 * out under the caller's id; the server's database maps one to the other.
 */
function cgroupKey(env: BenchEnv, sandboxId: string): string {
  const row = env.engine.db
    .prepare('SELECT COALESCE(cgroup_key, id) AS key FROM sandboxes WHERE id = ?')
    .get(sandboxId) as { key: string } | undefined;
  if (!row) throw new Error(`sandbox ${sandboxId} is not in the server's database`);
  return row.key;
}

/** The sandbox's cgroup relative to the cgroup roots. */
export function sandboxCgroupPath(env: BenchEnv, sandboxId: string): string {
  return `${env.cgroupParent}/${cgroupKey(env, sandboxId)}`;
}

export async function sandboxMemory(env: BenchEnv, sandboxId: string): Promise<SandboxMemory> {
  const cgroup = env.engine.cgroups.open(cgroupKey(env, sandboxId));
  if (!cgroup) throw new Error(`sandbox ${sandboxId} has no cgroup`);
  const pids = await cgroup.pids();
  const inside = new Set(pids);
  // The init is the only task whose parent is outside the cgroup; that parent is the supervisor.
  // The server itself is never counted, in case a build parents the init directly on it.
  const supervisors = new Set<number>();
  for (const pid of pids) {
    const parent = parentPid(pid);
    if (parent !== undefined && parent > 1 && !inside.has(parent) && parent !== process.pid) supervisors.add(parent);
  }
  const processes: ProcessMemory[] = [];
  const add = (pid: number, role: ProcessMemory['role']) => {
    const uss = ussBytes(pid);
    if (uss !== undefined) processes.push({ pid, name: processName(pid), role, ussBytes: uss });
  };
  for (const pid of pids) add(pid, 'sandbox');
  for (const pid of supervisors) add(pid, 'supervisor');
  return {
    ussBytes: processes.reduce((sum, p) => sum + p.ussBytes, 0),
    cgroupBytes: await cgroup.memoryBytes(),
    breakdown: cgroupMemoryBreakdown(sandboxCgroupPath(env, sandboxId)),
    processes,
  };
}
