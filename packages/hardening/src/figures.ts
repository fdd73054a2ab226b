/**
 * What each test file measured, kept as JSON so RELIABILITY.md can be rendered from every
 * suite's latest run: files run in separate processes, and `npm run test:hard -- x` reruns
 * one suite without losing the others' numbers.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReliability } from './report.js';

/** Beside the package's build output (git-ignored), never in the host's /tmp: a run leaves the
 * host as it found it, and the figures outlive one suite's process so RELIABILITY.md adds up. */
export const FIGURES_DIR =
  process.env.MITOS_HARDENING_FIGURES ?? fileURLToPath(new URL('../.figures', import.meta.url));

/** The totals RELIABILITY.md adds up across suites. */
export type Counter = 'attacks' | 'requests_fuzzed' | 'faults_injected' | 'load_requests' | 'leaks_found';

export interface Check {
  name: string;
  outcome: string;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface SuiteFigures {
  suite: string;
  title: string;
  order: number;
  finishedAt: string;
  durationS: number;
  counters: Partial<Record<Counter, number>>;
  /** Named numbers (e.g. cpu share, snapshot ms) with their unit in the name. */
  numbers: Record<string, number>;
  latency: Record<string, LatencySummary>;
  checks: Check[];
  findings: string[];
  notes: string[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    p50: r(percentile(s, 50)),
    p90: r(percentile(s, 90)),
    p99: r(percentile(s, 99)),
    max: r(s.at(-1) ?? 0),
  };
}

export class Recorder {
  private readonly started = performance.now();
  private readonly figures: SuiteFigures;

  constructor(suite: string, title: string, order: number) {
    this.figures = {
      suite,
      title,
      order,
      finishedAt: '',
      durationS: 0,
      counters: {},
      numbers: {},
      latency: {},
      checks: [],
      findings: [],
      notes: [],
    };
  }

  count(counter: Counter, n = 1): void {
    this.figures.counters[counter] = (this.figures.counters[counter] ?? 0) + n;
  }

  counterValue(counter: Counter): number {
    return this.figures.counters[counter] ?? 0;
  }

  check(name: string, outcome: string): void {
    this.figures.checks.push({ name, outcome });
  }

  number(name: string, value: number): void {
    this.figures.numbers[name] = Math.round(value * 1000) / 1000;
  }

  latency(name: string, samples: readonly number[]): void {
    this.figures.latency[name] = summarize(samples);
  }

  note(text: string): void {
    this.figures.notes.push(text);
  }

  finding(text: string): void {
    this.figures.findings.push(text);
  }

  /** Write this suite's figures and re-render RELIABILITY.md from every suite on record. */
  save(): void {
    this.figures.finishedAt = new Date().toISOString();
    this.figures.durationS = Math.round((performance.now() - this.started) / 100) / 10;
    this.figures.counters.leaks_found ??= 0;
    mkdirSync(FIGURES_DIR, { recursive: true });
    const file = join(FIGURES_DIR, `${this.figures.suite}.json`);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(this.figures, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    renderReliability(readAllFigures());
  }
}

export function readAllFigures(dir = FIGURES_DIR): SuiteFigures[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: SuiteFigures[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, name), 'utf8')) as SuiteFigures);
    } catch {
      // A half-written file from a killed run: skipped, the next run rewrites it.
    }
  }
  return out.sort((a, b) => a.order - b.order);
}
