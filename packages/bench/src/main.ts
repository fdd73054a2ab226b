#!/usr/bin/env node
/**
 * `npm run bench`: measures mitos on this machine next to peer runtimes measured in the same run,
 * and writes BENCHMARKS.md, BENCHMARKS.json and bench-results/latest.json.
 * @module
 */
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from './log.js';
import { describeMachine } from './machine.js';
import { type BenchOptions, parseOptions, UsageError } from './options.js';
import { evaluateGoals } from './report/goals.js';
import { computeRatios } from './report/ratios.js';
import { printSummary } from './report/summary.js';
import { writeReport } from './report/write.js';
import { type BenchResults, Recorder } from './results.js';
import { runBench } from './run-bench.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('the benchmark runs a real engine and installs peers: run it as root\n');
    return 1;
  }
  const started = performance.now();
  const loadAtStart = loadavg();
  const rec = new Recorder();
  const engine = await runBench(options, rec);
  const ratios = computeRatios(rec.figures);
  const results: BenchResults = {
    schema: 1,
    engine,
    command: `npm run bench${options.argv.length > 0 ? ` -- ${options.argv.join(' ')}` : ''}`,
    quick: options.quick,
    sections: [...options.sections],
    machine: describeMachine(REPO_ROOT, loadAtStart),
    durationS: (performance.now() - started) / 1000,
    figures: rec.figures,
    ratios,
    goals: evaluateGoals(rec.figures, ratios),
    peers: rec.peers,
    notes: rec.notes,
  };
  for (const file of writeReport(REPO_ROOT, results)) log(`wrote ${file}`);
  printSummary(results);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
