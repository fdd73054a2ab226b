/**
 * Paying the cgroup attach's wait early. The first write of a pid into any `cgroup.procs` after
 * a quiet spell waits for an RCU grace period (the kernel's cgroup_threadgroup_rwsem switching
 * readers to its slow path): 5-15 ms of every launch on a loaded host, measured with strace.
 * Writes that come while that switch is under way, or within about one grace period after one,
 * wait for the rest of it only. A process writing its own pid into the cgroup it is already in
 * moves nothing and starts that wait: the engine does it when a fork starts (so the wait runs
 * beside the snapshot) and each launcher while it builds the root (launch.c, --cgroup-prime).
 * Best effort: a failure only leaves the wait where it was.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The `cgroup.procs` of this process's own cgroup in the hierarchy mounted at `mount`: the v1
 * hierarchy of `controller`, or the unified one when `controller` is undefined. Undefined when
 * /proc/self/cgroup does not name it.
 */
export function ownProcsFile(
  mount: string,
  controller: string | undefined,
  procSelfCgroup?: string,
): string | undefined {
  let text = procSelfCgroup;
  try {
    text ??= readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    const controllers = (m[1] as string).split(',');
    const matches = controller === undefined ? m[1] === '' : controllers.includes(controller);
    if (matches) return join(mount, m[2] as string, 'cgroup.procs');
  }
  return undefined;
}

/** Start the grace period now; resolves once the write is done (never rejects). */
export function primeCgroupAttach(file: string | undefined): Promise<void> {
  if (!file) return Promise.resolve();
  return writeFile(file, String(process.pid)).catch(() => {});
}

/** Run `work` with the wait started beside it; returns once both are done. */
export async function whilePrimed<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  const primed = primeCgroupAttach(file);
  try {
    return await work();
  } finally {
    await primed;
  }
}
