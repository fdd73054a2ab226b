/**
 * Page cache per sandbox: several sandboxes of the python template and two fork children each
 * import numpy, pandas and matplotlib, one after the other; after each import, the file cache
 * charged to that sandbox's memory cgroup is what it read that no earlier sandbox had already
 * brought into the page cache. The kernel charges a cached page to the cgroup that first read
 * it, so with the template shared as one read-only layer the first sandbox pays for the
 * libraries and every later one (and every fork child) only for its own files.
 * @module
 */
import type { Sandbox } from '@mitos/sdk';
import { cgroupMemoryBreakdown } from '../host/cgroup-memory.js';
import { cachedBytes } from '../host/proc-memory.js';
import type { BenchEnv } from '../mitos/bench-env.js';
import { type ChildSandbox, canFork, forkChildren, NOT_AVAILABLE } from '../mitos/capabilities.js';
import { newSandbox, terminateAll } from '../mitos/client.js';
import { sandboxCgroupPath } from '../mitos/sandbox-memory.js';
import type { Sizes } from '../options.js';
import type { Figure, Recorder } from '../results.js';
import { summarize } from '../stats.js';

const MiB = 1024 * 1024;
export const IMPORT = "import numpy, pandas, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot";
const HOW = `python3 -c "${IMPORT}" in each sandbox in turn; then the file cache of its memory cgroup (memory.stat cache (v1) / file (v2))`;
const BASE: Pick<Figure, 'section' | 'subject' | 'unit'> = { section: 'pagecache', subject: 'mitos', unit: 'MiB' };

interface Measured {
  cgroupFile: number;
  hostCached: number;
}

async function importAndMeasure(env: BenchEnv, sb: { id: string; exec: ChildSandbox['exec'] }): Promise<Measured> {
  const before = cachedBytes();
  const res = await sb.exec(`python3 -c "${IMPORT}"`);
  if (res.exitCode !== 0) throw new Error(`import failed in ${sb.id}: ${res.stderr}`);
  const after = cachedBytes();
  const breakdown = cgroupMemoryBreakdown(sandboxCgroupPath(env, sb.id));
  if (!breakdown) throw new Error(`no memory cgroup figures for sandbox ${sb.id}`);
  return { cgroupFile: breakdown.fileBytes / MiB, hostCached: (after - before) / MiB };
}

export async function runPageCache(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<void> {
  const sandboxes: Sandbox[] = [];
  const children: ChildSandbox[] = [];
  try {
    const measured: Measured[] = [];
    for (let i = 0; i < sizes.pageCacheSandboxes; i++) {
      const sb = await newSandbox(env);
      sandboxes.push(sb);
      measured.push(await importAndMeasure(env, sb));
    }
    const [first, ...later] = measured;
    rec.add({
      ...BASE,
      id: 'pagecache.first',
      label: 'page cache charged to the first sandbox that imports numpy, pandas, matplotlib',
      summary: summarize([first?.cgroupFile ?? 0]),
      reproduce: HOW,
      note: 'pays for the libraries unless an earlier run left them cached',
    });
    rec.add({
      ...BASE,
      id: 'pagecache.sandbox',
      label: 'page cache unique to each later sandbox doing the same import',
      summary: summarize(later.map((m) => m.cgroupFile)),
      reproduce: `${HOW}; sandboxes 2..${sizes.pageCacheSandboxes}`,
    });
    rec.add({
      ...BASE,
      id: 'pagecache.sandbox.host',
      label: "  host 'Cached' growth per later sandbox's import",
      summary: summarize(later.map((m) => m.hostCached)),
      reproduce: 'Cached in /proc/meminfo before and after each import',
      note: 'host-wide: other processes on a shared machine move it too (it can be negative)',
    });
    const parent = sandboxes[0];
    if (!parent || !canFork(parent)) {
      rec.add({
        ...BASE,
        id: 'pagecache.fork',
        label: 'page cache unique to a fork child',
        unavailable: NOT_AVAILABLE,
        reproduce: HOW,
      });
      return;
    }
    children.push(...(await forkChildren(parent, 2)));
    const forked: Measured[] = [];
    for (const child of children) forked.push(await importAndMeasure(env, child));
    rec.add({
      ...BASE,
      id: 'pagecache.fork',
      label: 'page cache unique to each fork child doing the same import',
      summary: summarize(forked.map((m) => m.cgroupFile)),
      reproduce: `${HOW}; in 2 fork children of the first sandbox`,
    });
  } finally {
    await terminateAll([...children, ...sandboxes]);
  }
}
