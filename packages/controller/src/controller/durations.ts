/**
 * Go duration strings (`"30m"`, `"1h30m"`, `"1.5s"`, `"250ms"`) as the CRDs carry them.
 * @module
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? Number.NaN);
    matched = re.lastIndex;
  }
  return matched === s.length && s.length > 0 && Number.isFinite(total) ? total : undefined;
}
