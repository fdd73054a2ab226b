/**
 * Memory of a set of host processes, from /proc/<pid>/smaps_rollup: private pages are unique to
 * the sandbox; the rest of its resident set (template libraries in the page cache, shared with
 * every other sandbox of the template) is counted as shared, once.
 */
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  uniqueBytes: number;
  sharedBytes: number;
}

export function processMemory(pids: number[]): ProcessMemory {
  let unique = 0;
  let rss = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    for (const line of text.split('\n')) {
      const m = /^(\w+):\s+(\d+) kB/.exec(line);
      if (!m) continue;
      const bytes = Number(m[2]) * 1024;
      if (m[1] === 'Rss') rss += bytes;
      else if (m[1] === 'Private_Clean' || m[1] === 'Private_Dirty') unique += bytes;
    }
  }
  return { uniqueBytes: unique, sharedBytes: Math.max(0, rss - unique) };
}
