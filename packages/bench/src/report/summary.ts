/** A short plain-text summary on stdout at the end of a run; the full tables are in BENCHMARKS.md. */
import type { BenchResults } from '../results.js';
import { formatNumber, formatValue } from './format.js';

export function printSummary(r: BenchResults): void {
  const lines: string[] = [`${r.engine}: ${r.command}`];
  for (const f of r.figures) {
    const s = f.summary;
    const value = s
      ? `${formatNumber(s.median, f.unit)} ${f.unit} median, p95 ${formatNumber(s.p95, f.unit)}, n=${s.n}`
      : f.unavailable;
    lines.push(`  ${f.id.padEnd(34)} ${value}`);
  }
  for (const x of r.ratios) if (x.value !== undefined) lines.push(`  ${x.id.padEnd(34)} ${formatValue(x.value, 'x')}`);
  for (const g of r.goals) lines.push(`  ${g.id.padEnd(34)} ${g.status} (${g.target}; ${g.measured})`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
