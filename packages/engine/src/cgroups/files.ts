/**
 * Reading and writing cgroup control files, shared by the v1 and v2 managers. The kernel
 * answers a bad write with an errno (EINVAL, EBUSY), never a message, so the file name and
 * value go into the error detail.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MitosError } from '@mitos/protocol';

export function writeControl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const detail = `write ${JSON.stringify(value)} to ${path}: ${code ?? (err as Error).message}`;
    throw new MitosError(code === 'ENOENT' ? 'host_unsupported' : 'internal', detail, {}, { cause: err });
  }
}

export function readControl(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** Pids listed in cgroup.procs files (each task once); missing files count as empty. */
export function readPids(procsFiles: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const file of procsFiles) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) if (line) pids.add(Number(line));
  }
  return [...pids].sort((a, b) => a - b);
}

export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited already.
    }
  }
}

/** Poll `check` with a growing interval (1 ms up to 20 ms) until it holds or time runs out. */
export async function pollUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    if (check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(delay);
  }
}

/**
 * Remove a cgroup directory and any child cgroups below it, deepest first (a cgroup with
 * children cannot be removed). Missing is fine; EBUSY (tasks left) is thrown.
 */
export function removeCgroupDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupDir(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Make a sandbox id safe as a directory name (ids are validated upstream; this is a backstop). */
export function checkCgroupName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name) || name.includes('..')) {
    throw new MitosError('invalid_request', `invalid cgroup name ${JSON.stringify(name)}`);
  }
  return name;
}
