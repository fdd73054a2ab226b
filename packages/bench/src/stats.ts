/**
 * Order statistics for benchmark samples. Medians and p95 rather than means: on a shared,
 * noisy machine a single descheduled run would drag a mean far from what a user sees.
 * @module
 */

export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

function sorted(samples: readonly number[]): number[] {
  if (samples.length === 0) throw new RangeError('no samples');
  if (samples.some((x) => !Number.isFinite(x))) throw new RangeError('samples must be finite numbers');
  return [...samples].sort((a, b) => a - b);
}

/** The middle value; the mean of the two middle values for an even count. */
export function median(samples: readonly number[]): number {
  const s = sorted(samples);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
 * Always an observed value, so a p95 over 20 runs is the 19th fastest, never an interpolation.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const s = sorted(samples);
  return s[Math.ceil((p / 100) * s.length) - 1]!;
}

export function p95(samples: readonly number[]): number {
  return percentile(samples, 95);
}

export function summarize(samples: readonly number[]): Summary {
  const s = sorted(samples);
  return { n: s.length, median: median(s), p95: p95(s), min: s[0]!, max: s[s.length - 1]! };
}

/** A figure measured once (a total, an estimate) in the same shape as a sampled one. */
export function single(value: number): Summary {
  return summarize([value]);
}
