/** Builds the static escape probe (probe/probe.c) with the host's cc and installs it in a sandbox. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '@mitos/sdk';

const PROBE_DIR = join(fileURLToPath(new URL('.', import.meta.url)), '../probe');
export const PROBE_IN_SANDBOX = '/usr/local/bin/mitos-probe';
/** probe/isolation.c: attacks across tenants (keys, ucounts, seccomp, locked mounts, cgroups). */
export const ISOLATION_PROBE_IN_SANDBOX = '/usr/local/bin/mitos-isolation-probe';

const built = new Map<string, Buffer>();

export function buildProbe(outDir: string, source = 'probe.c'): Buffer {
  let binary = built.get(source);
  if (!binary) {
    const out = join(outDir, source.replace(/\.c$/, ''));
    execFileSync('cc', ['-O2', '-static', '-o', out, join(PROBE_DIR, source)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    binary = readFileSync(out);
    built.set(source, binary);
  }
  return binary;
}

export async function installProbe(sb: Sandbox, outDir: string): Promise<void> {
  await sb.files.write(PROBE_IN_SANDBOX, buildProbe(outDir), { mode: 0o755 });
}

export async function installIsolationProbe(sb: Sandbox, outDir: string): Promise<void> {
  await sb.files.write(ISOLATION_PROBE_IN_SANDBOX, buildProbe(outDir, 'isolation.c'), { mode: 0o755 });
}

export interface ProbeLine {
  name: string;
  allowed: boolean;
  errno: number;
  detail: string;
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** `EPERM (1)`: the number alone means little to a reader of RELIABILITY.md. */
export function errnoName(errno: number): string {
  return `${ERRNO_NAMES.get(errno) ?? 'errno'} (${errno})`;
}

export async function runProbe(sb: Sandbox, args: string, binary = PROBE_IN_SANDBOX): Promise<Map<string, ProbeLine>> {
  const r = await sb.exec(`${binary} ${args}`, { timeoutSeconds: 60 });
  const out = new Map<string, ProbeLine>();
  for (const line of r.stdout.split('\n')) {
    const [name, verdict, errno, ...rest] = line.split(' ');
    if (!name || !verdict) continue;
    out.set(name, { name, allowed: verdict === 'ok', errno: Number(errno), detail: rest.join(' ') });
  }
  return out;
}
