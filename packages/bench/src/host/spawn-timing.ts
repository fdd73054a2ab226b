/**
 * Times one process from spawn to its first stdout byte and to its exit. The first byte is the
 * fair counterpart of a sandbox API returning a command's output; the exit adds whatever the
 * tool does afterwards (podman --rm deletes the container, runc deletes its state).
 * @module
 */
import { spawn } from 'node:child_process';

export interface SpawnSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

export interface SpawnTiming {
  firstOutputMs: number;
  exitMs: number;
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export function timeSpawn(spec: SpawnSpec): Promise<SpawnTiming> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let firstOutputMs = Number.NaN;
    let stdout = '';
    let stderr = '';
    const child = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      uid: spec.uid,
      gid: spec.gid,
      // Never the host's /dev/null on any fd: crun fchown()s its stdio to the container's root
      // (the peers' uid range), which once left the host's /dev/null owned by that range.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => {});
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (Number.isNaN(firstOutputMs)) firstOutputMs = performance.now() - start;
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const exitMs = performance.now() - start;
      resolve({
        firstOutputMs: Number.isNaN(firstOutputMs) ? exitMs : firstOutputMs,
        exitMs,
        stdout,
        stderr,
        exitCode: code,
      });
    });
  });
}

/** Run to completion and fail loudly unless the output is what the command should print. */
export async function timeExpecting(spec: SpawnSpec, expected: string): Promise<SpawnTiming> {
  const t = await timeSpawn(spec);
  if (t.exitCode !== 0 || t.stdout.trim() !== expected) {
    const detail = (t.stderr.trim() || t.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new Error(`${spec.command} exited ${t.exitCode} printing ${JSON.stringify(t.stdout.trim())}: ${detail}`);
  }
  return t;
}
