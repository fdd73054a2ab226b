/**
 * Runs debootstrap (or a stand-in command) into a target directory, streaming its output line
 * by line so a minute-long build shows visible progress.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ImageSpec } from './images.js';

/** Builds the argv that fills `target` (tests replace debootstrap with a tiny fake). */
export type BootstrapCommand = (target: string, mirror: string, image: ImageSpec) => string[];

export const debootstrapCommand: BootstrapCommand = (target, mirror, image) => {
  const args = ['debootstrap', `--variant=${image.variant}`];
  if (image.packages.length > 0) args.push(`--include=${[...new Set(image.packages)].sort().join(',')}`);
  args.push(image.suite, target, mirror);
  return args;
};

export interface BootstrapRun {
  argv: string[];
  target: string;
  onLine: (line: string) => void;
  timeoutMs?: number;
}

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p));

/**
 * Run the command to completion. It runs in a private mount namespace: debootstrap mounts
 * /proc and /sys inside the target, and if it is killed those mounts would otherwise stay
 * behind in the host's table (and a later rm -rf of the target would walk into them).
 * Resolves on exit 0; rejects with an Error whose message ends with the last output lines.
 */
export function runBootstrap(run: BootstrapRun): Promise<void> {
  const [file, ...args] = run.argv;
  if (!file) return Promise.reject(new Error('empty bootstrap command'));
  const argv =
    UNSHARE && process.getuid?.() === 0
      ? [UNSHARE, '--mount', '--propagation', 'private', '--', file, ...args]
      : [file, ...args];
  const tail: string[] = [];
  const note = (line: string): void => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
    run.onLine(line);
  };
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout kills dpkg and the maintainer scripts too.
      detached: true,
      env: {
        ...process.env,
        DEBIAN_FRONTEND: 'noninteractive',
        LC_ALL: 'C',
        PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      },
    });
    const timer = setTimeout(
      () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      },
      run.timeoutMs ?? 30 * 60_000,
    );
    createInterface({ input: child.stdout }).on('line', note);
    createInterface({ input: child.stderr }).on('line', note);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${file}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const log = debootstrapLogTail(run.target);
      const lines = [...tail, ...(log ? ['--- debootstrap.log ---', log] : [])].join('\n');
      reject(new Error(`${file} exited with ${signal ?? `status ${code}`}\n${lines}`));
    });
  });
}

// debootstrap's own stdout only says "see debootstrap.log"; the reason is in the log.
function debootstrapLogTail(target: string): string | undefined {
  try {
    return readFileSync(join(target, 'debootstrap', 'debootstrap.log'), 'utf8')
      .split('\n')
      .slice(-20)
      .join('\n');
  } catch {
    return undefined;
  }
}
