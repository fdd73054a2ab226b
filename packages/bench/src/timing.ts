/**
 * Wall-clock timing helpers on the monotonic clock.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Milliseconds `fn` took, and its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/**
 * `warmup` discarded calls, then `runs` kept ones. Warm-up first because the first calls pay
 * for JIT, connection set-up and cold page cache, which is not what a steady user sees.
 */
export async function sampleRuns(runs: number, warmup: number, fn: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await fn());
  return samples;
}

/** Lets memory settle (lazy frees, page cache writeback) before reading it. */
export function settle(ms = 1000): Promise<void> {
  return sleep(ms);
}
