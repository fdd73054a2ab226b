/** Phase timings to stderr when MITOS_MICROVM_TRACE=1 (for profiling create and fork). */
const on = process.env.MITOS_MICROVM_TRACE === '1';

export function tracer(what: string): (phase: string) => void {
  if (!on) return () => {};
  const t0 = performance.now();
  let last = t0;
  return (phase) => {
    const now = performance.now();
    process.stderr.write(`[microvm ${what}] ${phase}: +${(now - last).toFixed(1)} ms (${(now - t0).toFixed(1)})\n`);
    last = now;
  };
}
