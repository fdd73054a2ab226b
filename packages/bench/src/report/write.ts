/**
 * Writes the report: BENCHMARKS.md and BENCHMARKS.json at the repo root (committed, so figures
 * can be compared across commits) and bench-results/latest.json (git-ignored scratch copy).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from '../results.js';
import { renderMarkdown } from './markdown.js';

export function writeReport(repoRoot: string, results: BenchResults): string[] {
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const written = [
    join(repoRoot, 'BENCHMARKS.md'),
    join(repoRoot, 'BENCHMARKS.json'),
    join(repoRoot, 'bench-results', 'latest.json'),
  ];
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(written[0]!, renderMarkdown(results));
  writeFileSync(written[1]!, json);
  writeFileSync(written[2]!, json);
  return written;
}
