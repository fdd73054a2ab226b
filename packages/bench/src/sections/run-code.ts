/**
 * run_code of `1+1`: the first call on a fresh sandbox (which starts the interpreter kernel)
 * and warm calls after it. Reports "not available" on SDK builds without `runCode`.
 * @module
 */
import type { BenchEnv } from '../mitos/bench-env.js';
import { canRunCode, expectCellText, NOT_AVAILABLE, type RunCodeCapable } from '../mitos/capabilities.js';
import { newSandbox } from '../mitos/client.js';
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

export async function runRunCode(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<void> {
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
  for (let i = 0; i < sizes.runCodeFirstRuns; i++) {
    const sb = await newSandbox(env);
    try {
      if (!canRunCode(sb)) {
        rec.add({ ...first, unavailable: NOT_AVAILABLE });
        rec.add({ ...warm, unavailable: NOT_AVAILABLE });
        return;
      }
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
}
