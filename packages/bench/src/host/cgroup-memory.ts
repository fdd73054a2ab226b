/**
 * What a cgroup's memory usage is made of: anonymous memory, file cache (shared with everyone
 * who reads the same files, and reclaimable) and kernel memory (page tables, namespaces,
 * sockets, slab), which no per-process figure such as USS can see.
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memoryCgroupDir } from './cgroup-fs.js';

export interface CgroupMemoryBreakdown {
  anonBytes: number;
  fileBytes: number;
  kernelBytes: number;
}

export function cgroupMemoryBreakdown(relativePath: string): CgroupMemoryBreakdown | undefined {
  const where = memoryCgroupDir(relativePath);
  if (!where) return undefined;
  try {
    const stat = parseStat(readFileSync(join(where.dir, 'memory.stat'), 'utf8'));
    if (where.version === 2) {
      return {
        anonBytes: stat.get('anon') ?? 0,
        fileBytes: stat.get('file') ?? 0,
        kernelBytes: stat.get('kernel') ?? 0,
      };
    }
    const kmem = Number(readFileSync(join(where.dir, 'memory.kmem.usage_in_bytes'), 'utf8').trim());
    return { anonBytes: stat.get('rss') ?? 0, fileBytes: stat.get('cache') ?? 0, kernelBytes: kmem };
  } catch {
    return undefined;
  }
}

function parseStat(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value) fields.set(key, Number(value));
  }
  return fields;
}
