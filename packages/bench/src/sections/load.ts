/**
 * Closed-loop load: N callers, each issuing its next call as soon as the previous returns, for a
 * fixed time. Reports completions per 1 s window and the latency each call saw.
 * @module
 */

export interface LoadResult {
  /** Calls completed in each whole second of the run. */
  perSecond: number[];
  latencies: number[];
  calls: number;
  durationMs: number;
}

export async function closedLoop(callers: number, forMs: number, call: () => Promise<void>): Promise<LoadResult> {
  const start = performance.now();
  const deadline = start + forMs;
  const completions: number[] = [];
  const latencies: number[] = [];
  const caller = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await call();
      const end = performance.now();
      latencies.push(end - t);
      completions.push(end - start);
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  const durationMs = performance.now() - start;
  return {
    perSecond: countPerWindow(completions, 1000, Math.floor(durationMs / 1000)),
    latencies,
    calls: completions.length,
    durationMs,
  };
}

/** How many completion times fall in each of `windows` consecutive windows of `size` ms. */
export function countPerWindow(times: readonly number[], size: number, windows: number): number[] {
  const counts = new Array<number>(windows).fill(0);
  for (const t of times) {
    const w = Math.floor(t / size);
    if (w < windows) counts[w]! += 1;
  }
  return counts;
}
