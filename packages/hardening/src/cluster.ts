/**
 * Checks of one state directory after a crash and restart, from the host's side: every root
 * and cgroup belongs to a sandbox the server lists (or to its warm pool or fork slots), and every listed
 * sandbox has both and answers.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupNamesOf, cgroupParentDirs, pidAlive, slotCgroupNamesOf } from './host.js';

export interface Api {
  url: string;
  headers?: Record<string, string>;
}

export async function call(api: Api, method: string, path: string, body?: unknown, timeoutMs = 120_000) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...api.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: res.status,
    json: json as Record<string, unknown> & { error?: { code: string; cause?: string } },
    text,
  };
}

export async function listedIds(api: Api): Promise<string[]> {
  const r = await call(api, 'GET', '/v1/sandboxes');
  return (r.json as unknown as Array<{ id: string }>).map((s) => s.id);
}

export interface Inventory {
  roots: string[];
  cgroups: string[];
  orphans: string[];
}

/** Roots and cgroups on the host that belong to neither a listed sandbox, the warm pool nor a fork slot. */
export function inventory(stateDir: string, cgroupParent: string, listed: readonly string[]): Inventory {
  const known = new Set(listed);
  const owned = (id: string) => known.has(id) || id.startsWith('pool-');
  let roots: string[] = [];
  try {
    roots = readdirSync(join(stateDir, 'storage', 'vol', 'sandboxes')).filter((n) => !n.startsWith('.'));
  } catch {
    roots = [];
  }
  const cgroups = new Set<string>();
  for (const dir of cgroupParentDirs(cgroupParent)) {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) cgroups.add(e.name);
  }
  const ownedCgroups = new Set([...cgroupNamesOf(stateDir, owned), ...slotCgroupNamesOf(stateDir)]);
  const orphans = [
    ...roots.filter((r) => !owned(r)).map((r) => `root ${r}`),
    ...[...cgroups].filter((c) => !ownedCgroups.has(c)).map((c) => `cgroup ${c}`),
  ];
  return { roots, cgroups: [...cgroups], orphans };
}

export { pidAlive };
