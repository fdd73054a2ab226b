/** Numbers as people read them in a table. */

export function bytes(n: number | undefined): string {
  if (n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function duration(seconds: number): string {
  if (seconds < 0) return '0s';
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.floor(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

export function age(iso: string, now: number): string {
  return duration((now - Date.parse(iso)) / 1000);
}

/** Time left before a deadline (unix seconds; 0 = none). */
export function deadline(unix: number, now: number): string {
  return unix === 0 ? 'none' : `in ${duration(unix - now / 1000)}`;
}

export function cpu(ns: number | undefined): string {
  return ns === undefined ? '–' : `${(ns / 1e9).toFixed(2)} s`;
}
