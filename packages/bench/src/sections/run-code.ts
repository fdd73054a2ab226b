/**
 * run_code of `1+1` on servers of their own (the shared server's python pool would start kernels
 * once this section ran code, and the sections after it would measure sandboxes carrying them):
 * - the default server (kernels started ahead where run_code is in recent use): the first call
 *   on a fresh sandbox from a pool that has seen a run_code (the figure of the goal), and
 *   create to that first call's answer with nothing in between;
 * - `--no-warm-kernels`: the first call starts the kernel (what a template's first run_code, or
 *   the first after its pool turned on, still pays), and warm calls after it;
 * - the unique memory a kernel started ahead costs each pooled sandbox.
 * Reports "not available" on SDK builds without `runCode`.
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
const MiB = 2 ** 20;

async function timedCell(sb: RunCodeCapable): Promise<number> {
  const { ms, value } = await timed(() => sb.runCode(CODE));
  expectCellText(value, '2');
  return ms;
}

/** A server of its own for this section, with the python template imported. */
async function ownEnv<T>(warmPool: number, warmKernels: boolean | undefined, body: (env: BenchEnv) => Promise<T>) {
  const env = await startBenchEnv(warmPool, undefined, { warmKernels });
  try {
    await prepareTemplate(env);
    return await body(env);
  } finally {
    await env.close();
  }
}

export async function runRunCode(rec: Recorder, _env: BenchEnv, sizes: Sizes, warmPool: number): Promise<void> {
  const pool = Math.max(warmPool, 1);
  const coldBytes = await ownEnv(pool, false, (env) => runCold(rec, env, sizes));
  if (coldBytes === undefined) return;
  await ownEnv(pool, undefined, (env) => runAdaptive(rec, env, sizes, pool, coldBytes));
}

/** `--no-warm-kernels`: the first call starts the kernel; returns a fresh sandbox's unique memory. */
async function runCold(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<number | undefined> {
  const cold = {
    id: 'runcode.first.cold',
    section: 'run_code',
    subject: 'mitos' as const,
    label: 'run_code `1+1`, first call when no kernel was started ahead (starts the kernel)',
    unit: 'ms' as const,
    reproduce: "mitos serve --no-warm-kernels; const sb = await create('python'); await sb.runCode('1+1')",
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
        for (const f of [cold, warm]) rec.add({ ...f, unavailable: NOT_AVAILABLE });
        return undefined;
      }
      if (i === 0) coldBytes = (await env.engine.usage(sb.id)).memory.uniqueBytes;
      // A shell command first, so the first run_code pays for the kernel and not the sandbox.
      await sb.exec('true');
      firstTimes.push(await timedCell(sb));
      if (i === 0) warmTimes = await sampleRuns(sizes.runCodeWarmRuns, 3, () => timedCell(sb));
    } finally {
      await sb.terminate().catch(() => {});
    }
  }
  rec.add({ ...cold, summary: summarize(firstTimes) });
  rec.add({ ...warm, summary: summarize(warmTimes) });
  return coldBytes;
}

/** The default server, once its python pool has seen a run_code (not timed) and refilled. */
async function runAdaptive(rec: Recorder, env: BenchEnv, sizes: Sizes, pool: number, coldBytes: number) {
  const first = {
    id: 'runcode.first',
    section: 'run_code',
    subject: 'mitos' as const,
    label:
      'run_code `1+1`, first call on a fresh sandbox (default server: python in recent use, kernel started in the pool)',
    unit: 'ms' as const,
    reproduce:
      "mitos serve; // a run_code in a python sandbox in the last 10 min\nconst sb = await create('python'); await sb.exec('true'); await sb.runCode('1+1')",
  };
  const direct = {
    id: 'runcode.tti',
    section: 'run_code',
    subject: 'mitos' as const,
    label: 'create to the first run_code `1+1` answer, nothing in between (default server, as above)',
    unit: 'ms' as const,
    reproduce: "mitos serve; const sb = await create('python'); await sb.runCode('1+1')",
  };
  // The use that turns the pool on: its own first call still starts its kernel.
  const starter = await newSandbox(env);
  try {
    if (!canRunCode(starter)) return rec.add({ ...first, unavailable: NOT_AVAILABLE });
    await timedCell(starter);
  } finally {
    await starter.terminate().catch(() => {});
  }
  const firstTimes: number[] = [];
  const directTimes: number[] = [];
  for (let i = 0; i < sizes.runCodeFirstRuns; i++) {
    // A pool that has had time to refill (and start its kernels), as between an agent's sandboxes.
    await poolSettled(env, pool);
    const sb = await newSandbox(env);
    try {
      if (!canRunCode(sb)) return;
      if (i === 0) {
        const warmBytes = (await env.engine.usage(sb.id)).memory.uniqueBytes;
        rec.add({
          id: 'runcode.prestarted.memory',
          section: 'run_code',
          subject: 'mitos',
          label:
            'unique memory of a fresh sandbox from the pool, python kernel started ahead (what each pooled sandbox costs)',
          unit: 'MiB',
          summary: summarize([warmBytes / MiB]),
          reproduce: `engine.usage(id).memory.uniqueBytes; without a kernel (--no-warm-kernels): ${(coldBytes / MiB).toFixed(2)} MiB, so the kernel costs ${((warmBytes - coldBytes) / MiB).toFixed(2)} MiB per pooled sandbox`,
        });
      }
      await sb.exec('true');
      firstTimes.push(await timedCell(sb));
    } finally {
      await sb.terminate().catch(() => {});
    }
    await poolSettled(env, pool);
    const t0 = performance.now();
    const next = await newSandbox(env);
    try {
      if (canRunCode(next)) await timedCell(next);
      directTimes.push(performance.now() - t0);
    } finally {
      await next.terminate().catch(() => {});
    }
  }
  rec.add({ ...first, summary: summarize(firstTimes) });
  rec.add({ ...direct, summary: summarize(directTimes) });
}

/** The python pool is full and not refilling (nor starting kernels in its sandboxes). */
async function poolSettled(env: BenchEnv, size: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  const settled = () => {
    const t = env.engine.pool.status().templates.find((x) => x.template === 'python');
    return t !== undefined && t.ready >= size && !t.refilling;
  };
  while (!settled()) {
    if (Date.now() > deadline) throw new Error('the warm pool did not refill within 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}
