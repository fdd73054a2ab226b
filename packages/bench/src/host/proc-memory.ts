/**
 * Per-process memory from /proc. Unique set size (USS: private clean + private dirty pages) is
 * what a process costs the machine beyond what it shares with others: a page shared with the
 * template's page cache or a fork sibling is not counted, so summing USS never double-counts.
 * @module
 */
import { readFileSync } from 'node:fs';
import { meminfoBytes } from '../machine.js';

/** USS in bytes, or undefined when the process is gone (it may exit while we look). */
export function ussBytes(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  return (kbField(text, 'Private_Clean') + kbField(text, 'Private_Dirty')) * 1024;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses; the fields after the last ')' are unambiguous.
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    return ppid === undefined ? undefined : Number(ppid);
  } catch {
    return undefined;
  }
}

export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Page cache and tmpfs of the whole host (`Cached` in /proc/meminfo). */
export function cachedBytes(): number {
  return meminfoBytes(readFileSync('/proc/meminfo', 'utf8'), 'Cached') ?? 0;
}

export function memAvailableBytes(): number {
  return meminfoBytes(readFileSync('/proc/meminfo', 'utf8'), 'MemAvailable') ?? 0;
}
