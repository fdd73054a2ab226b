/**
 * run_code of `1+1`: the first call on a fresh sandbox (which starts the interpreter kernel),
 * warm calls after it, and the first call on a sandbox from a pool whose python kernels are
 * started ahead (a second server with that engine option, in the same run). Reports "not
 * available" on SDK builds without `runCode`.
 * @module
 */
import { type BenchEnv, startBenchEnv } from '../mitos/bench-env.js';
import { canRunCode, expectCellText, NOT_AVAILABLE, type RunCodeCapable } from '../mitos/capabilities.js';
import { newSandbox, prepareTemplate } from '../mitos/client.js';
import type { Sizes } from '../options.js';
import type { Recorder } from '../results.js';
import { summarize } from '../stats.js';
import { sampleRuns, timed } from '../timing.js';

const CODE = '1+1';

async function timedCell(sb: RunCodeCapable): Promise<number> {
  const { ms, value } = await timed(() => sb.runCode(CODE));
  expectCellText(value, '2');
  return ms;
}

export async function runRunCode(rec: Recorder, env: BenchEnv, sizes: Sizes, warmPool: number): Promise<void> {
  const first = {
    id: 'runcode.first',
    section: 'run_code',
    subject: 'mitos' as const,
    label: 'run_code `1+1`, first call on a fresh sandbox (starts the kernel)',
    unit: 'ms' as const,
    reproduce: "const sb = await create('python'); await sb.runCode('1+1')",
  };
  const warm = {
    id: 'runcode.warm',
    section: 'run_code',
    subject: 'mitos' as const,
    label: 'run_code `1+1`, warm call',
    unit: 'ms' as const,
    reproduce: "await sb.runCode('1+1') // after a first call",
  };
  const firstTimes: number[] = [];
  let warmTimes: number[] = [];
  let coldBytes = 0;
  for (let i = 0; i < sizes.runCodeFirstRuns; i++) {
    const sb = await newSandbox(env);
    try {
      if (!canRunCode(sb)) {
        rec.add({ ...first, unavailable: NOT_AVAILABLE });
        rec.add({ ...warm, unavailable: NOT_AVAILABLE });
        return;
      }
      if (i === 0) coldBytes = (await env.engine.usage(sb.id)).memory.uniqueBytes;
      // A shell command first, so the first run_code pays for the kernel and not the sandbox.
      await sb.exec('true');
      firstTimes.push(await timedCell(sb));
      if (i === 0) {
        warmTimes = await sampleRuns(sizes.runCodeWarmRuns, 3, () => timedCell(sb));
      }
    } finally {
      await sb.terminate().catch(() => {});
    }
  }
  rec.add({ ...first, summary: summarize(firstTimes) });
  rec.add({ ...warm, summary: summarize(warmTimes) });
  await runFirstOnPrestarted(rec, sizes, Math.max(warmPool, 1), coldBytes);
}

async function runFirstOnPrestarted(rec: Recorder, sizes: Sizes, warmPool: number, coldBytes: number): Promise<void> {
  const figure = {
    id: 'runcode.first.prestarted',
    section: 'run_code',
    subject: 'mitos' as const,
    label: 'run_code `1+1`, first call on a sandbox from the pool, python kernel started ahead',
    unit: 'ms' as const,
    reproduce: "mitos serve --warm-kernels; const sb = await create('python'); await sb.runCode('1+1')",
  };
  const env = await startBenchEnv(warmPool, undefined, { warmKernels: true });
  try {
    await prepareTemplate(env);
    const times: number[] = [];
    for (let i = 0; i < sizes.runCodeFirstRuns; i++) {
      // A pool that has had time to refill, as between an agent's sandboxes; not timed.
      await poolRefilled(env, warmPool);
      const sb = await newSandbox(env);
      try {
        if (!canRunCode(sb)) return rec.add({ ...figure, unavailable: NOT_AVAILABLE });
        if (i === 0) {
          // What the kernel started ahead costs each pooled sandbox: unique memory of a fresh one.
          const warmBytes = (await env.engine.usage(sb.id)).memory.uniqueBytes;
          rec.add({
            id: 'runcode.prestarted.memory',
            section: 'run_code',
            subject: 'mitos',
            label: 'unique memory of a fresh sandbox: kernel started ahead / not (one each)',
            unit: 'MiB',
            summary: summarize([warmBytes / 2 ** 20]),
            reproduce: `engine.usage(id).memory.uniqueBytes; without --warm-kernels: ${(coldBytes / 2 ** 20).toFixed(2)} MiB`,
          });
        }
        await sb.exec('true');
        times.push(await timedCell(sb));
      } finally {
        await sb.terminate().catch(() => {});
      }
    }
    rec.add({ ...figure, summary: summarize(times) });
  } finally {
    await env.close();
  }
}

async function poolRefilled(env: BenchEnv, size: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  const ready = () => env.engine.pool.status().templates.find((t) => t.template === 'python')?.ready ?? 0;
  while (ready() < size) {
    if (Date.now() > deadline) throw new Error('the warm pool did not refill within 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
