/**
 * Startup, side by side: mitos time to interactive and create-and-run, and every peer running
 * the same commands from scratch. Contenders take turns within each round, in a rotating
 * order, so a noisy neighbour hurts all of them alike instead of whichever ran at that moment.
 * @module
 */
import { describeError, log } from '../log.js';
import type { Contender, RunSample } from '../peers/contender.js';
import type { Recorder } from '../results.js';
import { summarize } from '../stats.js';

export interface StartupPlan {
  contenders: Contender[];
  runs: number;
  warmup: number;
}

/** A contender that fails this often is dropped; fewer failures are skipped runs (a busy machine times out). */
const MAX_FAILURES = 3;

export async function runStartup(rec: Recorder, plan: StartupPlan): Promise<void> {
  const samples = new Map<Contender, RunSample[]>(plan.contenders.map((c) => [c, []]));
  const failures = new Map<Contender, string[]>();
  const failed = new Map<Contender, string>();
  const rounds = plan.warmup + plan.runs;
  try {
    await runRounds(plan, rounds, samples, failures, failed);
  } finally {
    for (const c of plan.contenders) c.close?.();
  }
  for (const c of plan.contenders) {
    const errors = failures.get(c) ?? [];
    const failure =
      failed.get(c) ??
      (errors.length > 0 ? `${errors.length} run(s) failed and were skipped: ${errors.at(-1)}` : undefined);
    record(rec, c, samples.get(c)!, failure);
  }
}

async function runRounds(
  plan: StartupPlan,
  rounds: number,
  samples: Map<Contender, RunSample[]>,
  failures: Map<Contender, string[]>,
  failed: Map<Contender, string>,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const live = plan.contenders.filter((c) => !failed.has(c));
    const order = live.map((_, i) => live[(i + round) % live.length]!);
    for (const c of order) {
      try {
        const sample = await c.run();
        if (round >= plan.warmup) samples.get(c)!.push(sample);
      } catch (err) {
        const seen = [...(failures.get(c) ?? []), describeError(err)];
        failures.set(c, seen);
        log(`${c.id} failed (${seen.length}/${MAX_FAILURES}): ${describeError(err)}`);
        if (seen.length >= MAX_FAILURES) failed.set(c, `${seen.length} failures, last: ${describeError(err)}`);
      }
    }
    if ((round + 1) % 5 === 0 || round + 1 === rounds) log(`startup: round ${round + 1}/${rounds}`);
  }
}

function record(rec: Recorder, c: Contender, samples: RunSample[], failure: string | undefined): void {
  const base = { section: 'startup', subject: c.subject, unit: 'ms' as const };
  const note = failure ?? c.note;
  if (samples.length === 0) {
    rec.add({ ...base, id: c.id, label: c.label, reproduce: c.reproduce, unavailable: failure ?? 'no runs' });
    return;
  }
  rec.add({
    ...base,
    id: c.id,
    label: c.label,
    reproduce: c.reproduce,
    summary: summarize(samples.map((s) => s.ms)),
    note,
  });
  for (const [part, meta] of Object.entries(c.parts ?? {})) {
    const values = samples.map((s) => s.parts?.[part]).filter((v): v is number => v !== undefined);
    if (values.length === 0) continue;
    rec.add({
      ...base,
      id: `${c.id}.${part}`,
      label: meta.label,
      reproduce: meta.reproduce ?? c.reproduce,
      summary: summarize(values),
      note: meta.note,
    });
  }
}
