/** Builds the static escape probe (probe/probe.c) with the host's cc and installs it in a sandbox. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '@mitos/sdk';

const SOURCE = join(fileURLToPath(new URL('.', import.meta.url)), '../probe/probe.c');
export const PROBE_IN_SANDBOX = '/usr/local/bin/mitos-probe';

let built: Buffer | undefined;

export function buildProbe(outDir: string): Buffer {
  if (!built) {
    const out = join(outDir, 'mitos-probe');
    execFileSync('cc', ['-O2', '-static', '-o', out, SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
    built = readFileSync(out);
  }
  return built;
}

export async function installProbe(sb: Sandbox, outDir: string): Promise<void> {
  await sb.files.write(PROBE_IN_SANDBOX, buildProbe(outDir), { mode: 0o755 });
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

export async function runProbe(sb: Sandbox, args: string): Promise<Map<string, ProbeLine>> {
  const r = await sb.exec(`${PROBE_IN_SANDBOX} ${args}`, { timeoutSeconds: 60 });
  const out = new Map<string, ProbeLine>();
  for (const line of r.stdout.split('\n')) {
    const [name, verdict, errno, ...rest] = line.split(' ');
    if (!name || !verdict) continue;
    out.set(name, { name, allowed: verdict === 'ok', errno: Number(errno), detail: rest.join(' ') });
  }
  return out;
}
