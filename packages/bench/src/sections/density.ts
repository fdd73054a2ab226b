/**
 * Density: create many idle sandboxes for real, then measure what each one costs (USS of its
 * processes plus its supervisor; its cgroup's usage split into anon, file cache and kernel
 * memory), what the machine lost in MemAvailable, and extrapolate how many idle sandboxes this
 * machine would hold. Fork children are measured the same way.
 * @module
 */
import type { Sandbox } from '@mitos/sdk';
import { memAvailableBytes } from '../host/proc-memory.js';
import { log } from '../log.js';
import type { BenchEnv } from '../mitos/bench-env.js';
import { canFork, forkChildren, NOT_AVAILABLE } from '../mitos/capabilities.js';
import { newSandbox, terminateAll } from '../mitos/client.js';
import { type SandboxMemory, sandboxMemory } from '../mitos/sandbox-memory.js';
import type { Sizes } from '../options.js';
import type { Figure, Recorder } from '../results.js';
import { median, single, summarize } from '../stats.js';
import { settle } from '../timing.js';

export const MiB = 1024 * 1024;
const USS_HOW =
  'sum of Private_Clean + Private_Dirty in /proc/PID/smaps_rollup over cgroup.procs + the mitos-supervise parent';
const CGROUP_HOW = 'memory.usage_in_bytes (v1) / memory.current (v2) of the sandbox cgroup';

type Base = Pick<Figure, 'section' | 'subject'>;
const BASE: Base = { section: 'density', subject: 'mitos' };

export async function runDensity(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<void> {
  const count = sizes.densitySandboxes;
  await settle();
  const before = memAvailableBytes();
  const sandboxes: Sandbox[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const sb = await newSandbox(env);
      sandboxes.push(sb);
      await sb.exec('true');
      if ((i + 1) % 10 === 0) log(`density: ${i + 1}/${count} idle sandboxes`);
    }
    await settle(2000);
    const after = memAvailableBytes();
    const measured = await Promise.all(sandboxes.map((sb) => sandboxMemory(env, sb.id)));
    recordPerSandbox(rec, measured, 'idle', 'idle sandbox');
    recordMachine(rec, measured, { before, after, count });
    await measureForkChildren(rec, env, sandboxes[0]!, sizes.densityForkChildren);
  } finally {
    await terminateAll(sandboxes);
  }
}

/** USS (with a per-process split) and the cgroup's usage (with its anon/file/kernel split). */
function recordPerSandbox(rec: Recorder, measured: SandboxMemory[], key: string, what: string): void {
  rec.add({
    ...BASE,
    id: `density.${key}.uss`,
    label: `unique memory (USS) per ${what}, processes + supervisor`,
    unit: 'MiB',
    summary: summarize(measured.map((m) => m.ussBytes / MiB)),
    reproduce: USS_HOW,
  });
  for (const [name, values] of byProcess(measured)) {
    rec.add({
      ...BASE,
      id: `density.${key}.uss.${name}`,
      label: `  of which ${name}`,
      unit: 'MiB',
      summary: summarize(values),
      reproduce: 'as above, per process name',
    });
  }
  rec.add({
    ...BASE,
    id: `density.${key}.cgroup`,
    label: `cgroup memory usage per ${what}`,
    unit: 'MiB',
    summary: summarize(measured.map((m) => m.cgroupBytes / MiB)),
    reproduce: CGROUP_HOW,
  });
  const parts = [
    ['kernel', 'kernel memory charged to the cgroup (page tables, sockets, slab; invisible to USS)', 'kernelBytes'],
    ['file', 'page cache of files it was first to read (reclaimable)', 'fileBytes'],
    ['anon', 'anonymous memory', 'anonBytes'],
  ] as const;
  for (const [suffix, label, field] of parts) {
    const values = measured.flatMap((m) => (m.breakdown ? [m.breakdown[field] / MiB] : []));
    if (values.length === 0) continue;
    rec.add({
      ...BASE,
      id: `density.${key}.cgroup.${suffix}`,
      label: `  of which ${label}`,
      unit: 'MiB',
      summary: summarize(values),
      reproduce: 'memory.kmem.usage_in_bytes, memory.stat cache / rss (v1); memory.stat kernel / file / anon (v2)',
    });
  }
}

/** Totals, the MemAvailable the machine lost, and the extrapolations (labelled as estimates). */
function recordMachine(
  rec: Recorder,
  measured: SandboxMemory[],
  mem: { before: number; after: number; count: number },
): void {
  const uss = measured.map((m) => m.ussBytes / MiB);
  rec.add({
    ...BASE,
    id: 'density.idle.total',
    label: `measured total USS of the ${mem.count} idle sandboxes held at once`,
    unit: 'MiB',
    summary: single(uss.reduce((a, b) => a + b, 0)),
    reproduce: `create ${mem.count} sandboxes, exec('true') in each, wait 2 s, sum the USS`,
  });
  const lost = (mem.before - mem.after) / mem.count / MiB;
  rec.add({
    ...BASE,
    id: 'density.idle.memavailable',
    label: 'MemAvailable lost per idle sandbox while they were held',
    unit: 'MiB',
    ...(lost > 0
      ? { summary: single(lost), note: 'noisy: other processes on a shared machine move MemAvailable too' }
      : { unavailable: 'not measurable: MemAvailable rose meanwhile (other processes freed memory)' }),
    reproduce: `(MemAvailable before - after creating ${mem.count}) / ${mem.count}, from /proc/meminfo`,
  });
  const available = mem.before / MiB;
  const perUss = median(uss);
  rec.add({
    ...BASE,
    id: 'density.idle.estimate',
    label: 'estimate: idle sandboxes this machine would hold = MemAvailable / median USS',
    unit: 'sandboxes',
    summary: single(Math.floor(available / perUss)),
    reproduce: `${available.toFixed(0)} MiB MemAvailable before the run / ${perUss.toFixed(3)} MiB`,
    note: 'an extrapolation, not a measurement; USS leaves out kernel memory and page cache, see the next line',
  });
  // The cautious bound: everything charged to the cgroup (page cache included, which on btrfs
  // is per snapshot and so not shared between sandboxes) plus the supervisor outside it.
  const charged = measured.map((m) => (m.cgroupBytes + supervisorBytes(m)) / MiB);
  const perCharged = median(charged);
  rec.add({
    ...BASE,
    id: 'density.idle.estimate.cgroup',
    label: '  cautious estimate = MemAvailable / (cgroup usage + supervisor USS)',
    unit: 'sandboxes',
    summary: single(Math.floor(available / perCharged)),
    reproduce: `${available.toFixed(0)} MiB / ${perCharged.toFixed(3)} MiB`,
    note: 'an extrapolation, not a measurement; counts reclaimable page cache as if it were pinned',
  });
}

function supervisorBytes(m: SandboxMemory): number {
  return m.processes.filter((p) => p.role === 'supervisor').reduce((sum, p) => sum + p.ussBytes, 0);
}

/** USS grouped by process name (mitos-init, mitos-supervise, ...), for the "what bounds it" column. */
function byProcess(measured: SandboxMemory[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const m of measured) {
    const perName = new Map<string, number>();
    for (const p of m.processes) perName.set(p.name, (perName.get(p.name) ?? 0) + p.ussBytes / MiB);
    for (const [name, v] of perName) groups.set(name, [...(groups.get(name) ?? []), v]);
  }
  return groups;
}

async function measureForkChildren(rec: Recorder, env: BenchEnv, parent: Sandbox, count: number): Promise<void> {
  if (!canFork(parent)) {
    rec.add({
      ...BASE,
      id: 'density.fork.uss',
      label: 'unique memory (USS) per fork child of an idle sandbox, processes + supervisor',
      unit: 'MiB',
      reproduce: USS_HOW,
      unavailable: NOT_AVAILABLE,
    });
    return;
  }
  const children = await forkChildren(parent, count);
  try {
    await Promise.all(children.map((c) => c.exec('true')));
    await settle(2000);
    const measured = await Promise.all(children.map((c) => sandboxMemory(env, c.id)));
    recordPerSandbox(rec, measured, 'fork', `fork child of an idle sandbox (sb.fork(${count}))`);
  } finally {
    await terminateAll(children);
  }
}
