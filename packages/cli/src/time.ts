/** Human-sized durations for tables and reports. */

/** `3s`, `4m`, `2h`, `5d`: the largest whole unit of the time between `then` and `now`. */
export function ago(then: Date, now: number = Date.now()): string {
  return duration(Math.max(0, now - then.getTime()));
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `213829.95587499999` ms as `3m 33.8s`; under a minute `4.2s`; under a second `87 ms`. */
export function elapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m ${((ms - m * 60_000) / 1000).toFixed(1)}s`;
}
