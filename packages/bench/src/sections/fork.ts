/**
 * Fork: `sandbox.fork(1)` then the first exec in the child, and fan-out, the wall time of
 * `fork(n)` plus an exec in every child, for n = 1, 4, 16. Children are terminated after the
 * clock stops. Reports "not available" on SDK builds without `fork`.
 * @module
 */
import type { BenchEnv } from '../mitos/bench-env.js';
import { canFork, type ForkCapable, forkChildren, NOT_AVAILABLE } from '../mitos/capabilities.js';
import { newSandbox, terminateAll } from '../mitos/client.js';
import type { Sizes } from '../options.js';
import type { Figure, Recorder } from '../results.js';
import { summarize } from '../stats.js';

type FigureBase = Omit<Figure, 'summary' | 'unavailable'>;

export async function runFork(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<void> {
  const first: FigureBase = {
    id: 'fork.first',
    section: 'fork',
    subject: 'mitos',
    label: "fork to first exec in the child (`fork(1)`, then `child.exec('true')`)",
    unit: 'ms',
    reproduce: "const [child] = await sb.fork(1); await child.exec('true')",
  };
  const fanouts: Array<FigureBase & { children: number; runs: number }> = sizes.fanout.map(({ children, runs }) => ({
    id: `fork.fanout.${children}`,
    section: 'fork',
    subject: 'mitos',
    label: `fan-out wall time: \`fork(${children})\` then \`exec('true')\` in all ${children} children`,
    unit: 'ms',
    reproduce: `const kids = await sb.fork(${children}); await Promise.all(kids.map((k) => k.exec('true')))`,
    children,
    runs,
  }));
  const parent = await newSandbox(env);
  try {
    if (!canFork(parent)) {
      for (const f of [first, ...fanouts]) rec.add({ ...strip(f), unavailable: NOT_AVAILABLE });
      return;
    }
    // A parent that has run something, as an agent's sandbox would have before it branches.
    await parent.exec('python3 -c "x = 1"');
    await forkAndExec(parent, 1); // warm-up
    const firstTimes: number[] = [];
    for (let i = 0; i < sizes.forkFirstRuns; i++) firstTimes.push(await forkAndExec(parent, 1));
    rec.add({ ...first, summary: summarize(firstTimes) });
    for (const f of fanouts) {
      const times: number[] = [];
      for (let i = 0; i < f.runs; i++) times.push(await forkAndExec(parent, f.children));
      rec.add({ ...strip(f), summary: summarize(times) });
    }
  } finally {
    await parent.terminate().catch(() => {});
  }
}

async function forkAndExec(parent: ForkCapable, count: number): Promise<number> {
  const start = performance.now();
  const children = await forkChildren(parent, count);
  let ms: number;
  try {
    const results = await Promise.all(children.map((c) => c.exec('true')));
    ms = performance.now() - start;
    if (results.some((r) => r.exitCode !== 0)) throw new Error('exec in a fork child failed');
  } finally {
    await terminateAll(children);
  }
  return ms;
}

function strip(f: FigureBase & { children?: number; runs?: number }): FigureBase {
  const { children: _c, runs: _r, ...figure } = f;
  return figure;
}
