/**
 * A local host user with no business in mitos's files: the host's `nobody`, reached with
 * setpriv from the root the suites run as. Attacks "from a local host user" run through here.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** setpriv's arguments that drop to `nobody` with no supplementary groups. */
export const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** Runs `argv` as `nobody` and waits: its exit code and everything it printed. */
export function asLocalUser(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync('setpriv', [...AS_NOBODY, '--', ...argv], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs a node script as `nobody` without blocking the event loop (the test's own server must
 * keep answering it); resolves to its stdout, rejects when it exits non-zero. */
export async function nodeAsLocalUser(script: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('setpriv', [...AS_NOBODY, '--', process.execPath, '-e', script, ...args]);
  return stdout;
}
