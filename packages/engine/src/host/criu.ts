/**
 * CRIU, the checkpoint/restore tool a process-carrying fork needs. Debian bookworm's 3.17 fails
 * on kernels >= 6.13 (vDSO layout) and trixie's 4.1.1 cannot dump a TCP or UDP socket on
 * kernels >= 6.16 (getsockopt SO_PASSCRED is refused there), so `scripts/setup.mjs` installs
 * the pinned 4.2 from Debian forky as a debootstrapped tree of its own under the cache
 * directory (it needs that suite's libc), named by its inputs. It is run through that tree's own dynamic loader, so it
 * sees the host's /proc and paths as they are, with no chroot.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tryRun } from './run.js';

/** Keep in step with scripts/setup.mjs (a test compares the two). */
export const CRIU_PIN = { suite: 'forky', version: '4.2.1-1' } as const;

export interface CriuTool {
  /** The tree setup made: root-only, so no other host user can swap what runs as root. */
  tree: string;
  version: string;
  /** The argv that runs `criu ARGS...` from the tree. */
  argv(args: readonly string[]): [string, string[]];
}

export function criuTreePath(cacheDir: string): string {
  return join(cacheDir, 'criu', `${CRIU_PIN.suite}-${CRIU_PIN.version}`);
}

/** The installed, pinned CRIU under `cacheDir`, or why there is none. */
export function findCriu(cacheDir: string): { tool: CriuTool } | { missing: string } {
  const tree = criuTreePath(cacheDir);
  const ready = join(tree, 'ready');
  if (!existsSync(ready)) return { missing: `no CRIU ${CRIU_PIN.version} tree at ${tree}` };
  const version = readFileSync(ready, 'utf8').trim();
  if (version !== CRIU_PIN.version) return { missing: `${tree} holds CRIU ${version}, not ${CRIU_PIN.version}` };
  const st = statSync(tree);
  if (st.uid !== 0 || (st.mode & 0o077) !== 0) {
    return { missing: `${tree} must belong to root and be closed to other users (mode 0700)` };
  }
  const loader = join(tree, 'lib64', 'ld-linux-x86-64.so.2');
  const libs = join(tree, 'usr', 'lib', 'x86_64-linux-gnu');
  const binary = join(tree, 'usr', 'sbin', 'criu');
  return {
    tool: {
      tree,
      version,
      argv: (args) => [loader, ['--library-path', libs, binary, ...args]],
    },
  };
}

/** `criu --version` from the tree: proves the loader, the libraries and the binary fit. */
export async function criuVersion(tool: CriuTool): Promise<string | undefined> {
  const [file, args] = tool.argv(['--version']);
  const res = await tryRun(file, args, { timeoutMs: 10_000 });
  return res.ok ? /Version:\s*(\S+)/.exec(res.stdout)?.[1] : undefined;
}
