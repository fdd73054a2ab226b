/** Number formatting for the report: precision that matches how noisy each kind of figure is. */
import type { Unit } from '../results.js';

export function formatNumber(v: number, unit: Unit | 'x'): string {
  if (unit === 'calls/s' || unit === 'sandboxes') return Math.round(v).toLocaleString('en-US');
  if (unit === 'MiB') return v.toFixed(2);
  if (unit === 'KiB') return v.toFixed(1);
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function formatValue(v: number, unit: Unit | 'x'): string {
  if (unit === 'x') return `${formatNumber(v, unit)}x`;
  return `${formatNumber(v, unit)} ${unit}`;
}
