/**
 * Running host tools (btrfs, losetup, mount, ...) with their failures turned into MitosErrors
 * at this one boundary, so storage code never parses stderr itself.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mapHostError } from './errors.js';
import { which } from './which.js';

const execFileAsync = promisify(execFile);

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the tool after this long; a hung `umount` or `losetup` must not hang the server. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Run a tool to completion; any failure becomes a MitosError (see mapHostError). */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  try {
    // Resolved here because a server's PATH often lacks the sbin dirs these tools live in.
    const { stdout, stderr } = await execFileAsync(which(file) ?? file, args, {
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
      env: options.env ?? process.env,
      encoding: 'utf8',
    });
    return { stdout, stderr };
  } catch (err) {
    throw mapHostError(err, [file, ...args].join(' '));
  }
}

/** Like run(), but a failure is returned instead of thrown (for probes and best-effort cleanup). */
export async function tryRun(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult & { ok: boolean; error?: unknown }> {
  try {
    return { ...(await run(file, args, options)), ok: true };
  } catch (error) {
    return { stdout: '', stderr: '', ok: false, error };
  }
}
