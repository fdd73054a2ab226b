/**
 * Writes the report: BENCHMARKS.md and BENCHMARKS.json at the repo root (committed, so figures
 * can be compared across commits) and bench-results/latest.json (git-ignored scratch copy).
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from '../results.js';
import { renderMarkdown } from './markdown.js';

/**
 * The line after which BENCHMARKS.md holds sections written by hand from separate runs (A/B
 * comparisons, spikes, other engines). A run regenerates everything above it and keeps
 * everything from it on, so refreshing the figures never erases the record of how they moved.
 */
export const HAND_WRITTEN_MARKER =
  '<!-- Sections below are written by hand from separate runs; `npm run bench` keeps them. -->';

/** The hand-written tail of a previous BENCHMARKS.md (from the marker on), or '' when it has none. */
export function handWrittenTail(previous: string | undefined): string {
  if (previous === undefined) return '';
  const at = previous.indexOf(HAND_WRITTEN_MARKER);
  return at < 0 ? '' : previous.slice(at);
}

export function writeReport(repoRoot: string, results: BenchResults): string[] {
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const written = [
    join(repoRoot, 'BENCHMARKS.md'),
    join(repoRoot, 'BENCHMARKS.json'),
    join(repoRoot, 'bench-results', 'latest.json'),
  ];
  const previous = existsSync(written[0]!) ? readFileSync(written[0]!, 'utf8') : undefined;
  const tail = handWrittenTail(previous);
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(written[0]!, tail ? `${renderMarkdown(results)}\n${tail}` : renderMarkdown(results));
  writeFileSync(written[1]!, json);
  writeFileSync(written[2]!, json);
  return written;
}
