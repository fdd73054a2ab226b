/** Identity of host processes across restarts: a pid plus its start time names one process. */
import { readFileSync } from 'node:fs';

/** Start time of a process in clock ticks since boot, or undefined if it is gone. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive, not a zombie, and is the same process that was recorded. */
export function isSameProcess(pid: number, startTicks: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] !== 'Z' && rest[19] === startTicks;
  } catch {
    return false;
  }
}
