/**
 * The facts about the host that a figure only makes sense next to.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import type { Machine } from './results.js';

/** `loadAtStart` is os.loadavg() from the start of the run: a busy machine explains noisy figures. */
export function describeMachine(repoRoot: string, loadAtStart: number[]): Machine {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: availableParallelism(),
    memTotalBytes: meminfoBytes(meminfo, 'MemTotal') ?? 0,
    kernel: release(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    date: new Date().toISOString(),
    node: process.version,
    commit: gitCommit(repoRoot),
    loadAvg: { start: loadAtStart, end: loadavg() },
  };
}

/** A /proc/meminfo field in bytes (the file says kB and means KiB). */
export function meminfoBytes(meminfo: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** HEAD, marked `-dirty` when the tree has changes, so a figure can be traced to its code. */
function gitCommit(repoRoot: string): string | undefined {
  const head = spawnSync('git', ['-C', repoRoot, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return undefined;
  const dirty = spawnSync('git', ['-C', repoRoot, 'status', '--porcelain', '--untracked-files=no'], {
    encoding: 'utf8',
  });
  return head.stdout.trim() + (dirty.stdout.trim() ? '-dirty' : '');
}
