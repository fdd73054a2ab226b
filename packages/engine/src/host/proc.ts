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

/** The kernel's PF_EXITING task flag: the process has begun to exit (a SIGKILL was taken). */
const PF_EXITING = 0x4;

/**
 * True when `pid` is alive, not exiting, not a zombie, and is the same process that was
 * recorded. An init that was just SIGKILLed stays in state D for a while as its namespaces and
 * mounts are torn down; it counts as gone, or a pooled sandbox would be handed out dying.
 */
export function isSameProcess(pid: number, startTicks: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const exiting = (Number(rest[6]) & PF_EXITING) !== 0;
    return rest[0] !== 'Z' && !exiting && rest[19] === startTicks;
  } catch {
    return false;
  }
}
