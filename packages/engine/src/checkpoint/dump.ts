/**
 * Checkpoint a live sandbox's whole process tree with the pinned CRIU, leaving it running: the
 * first half of a fork that carries processes. Run as the owner of the sandbox's user
 * namespace (as-owner.ts). The host's read-only binds (/dev nodes, /opt/mitos/init, kernels)
 * are recorded as external mounts, and the agent's unix sockets as external sockets: a
 * restore provides its own of each. The engine's connection to the agent must be closed
 * first (its accepted socket belongs to the host's network namespace, where CRIU does not
 * look): the dump waits, bounded, until the agent holds none.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { KERNELS_IN_SANDBOX } from '../agent/kernels.js';
import type { CriuTool } from '../host/criu.js';
import { asNamespaceOwner, ownCapabilities } from './as-owner.js';
import { keepKernelFeatures, seedKernelFeatures } from './kernel-features.js';
import { agentSockets } from './tree.js';

export interface DumpTarget {
  /** Host pid of the sandbox's pid 1. */
  initPid: number;
  /** Host uid of sandbox root: the user namespace's owner. */
  uidBase: number;
}

export interface DumpResult {
  /** The images; readable by the sandbox's uid and root only. */
  dir: string;
  /** The unix sockets recorded as external (the agent's listening socket). */
  externalSockets: string[];
}

const DUMP_TIMEOUT_MS = 60_000;
const CONNECTION_GONE_MS = 10_000;

/**
 * The sandbox's binds of host paths in the engine's root-only state directory, recorded under
 * a key: a restore stages their sources where the restored namespace can reach them and maps
 * each key there (checkpoint/restore.ts). Other host binds (/dev nodes) are found by path.
 */
export const KEYED_EXTERNAL_MOUNTS: Readonly<Record<string, string>> = {
  // A tmpfs whose device nodes a restore cannot make: the launcher stages a fresh one.
  'mitos-dev': '/dev',
  'mitos-init': '/opt/mitos/init',
  'mitos-kernels': KERNELS_IN_SANDBOX,
};

/** The images go to the working directory: CRIU's uid need not reach it by path (see dumpSandbox). */
export function dumpArgs(target: DumpTarget, externalSockets: readonly string[]): string[] {
  return [
    'dump',
    '--unprivileged',
    '-t',
    String(target.initPid),
    '-D',
    '.',
    '--leave-running',
    // The sandbox has no links out but its loopback and (with a network posture) its veth;
    // locking them is the host network's business, not the dump's.
    '--network-lock',
    'skip',
    // Nothing of the network namespace but its sockets: a child gets loopback and its own link
    // as a fresh sandbox does (launch-restore.c), and dumping the links, addresses, routes and
    // tables runs six tools while the parent is frozen.
    '--empty-ns',
    'net',
    '--tcp-established',
    ...Object.entries(KEYED_EXTERNAL_MOUNTS).flatMap(([key, path]) => ['--external', `mnt[${path}]:${key}`]),
    '--external',
    'mnt[]',
    ...externalSockets.flatMap((inode) => ['--external', `unix[${inode}]`]),
    '-o',
    'dump.log',
    '-v2',
  ];
}

/** The last lines of a CRIU log that say why it stopped. */
export function criuFailure(log: string): string {
  const lines = log.split('\n').filter((l) => /Error|error|Can't|Unable|fail/.test(l));
  return lines.slice(-4).join(' | ').slice(0, 800) || 'no error in the log';
}

function runTool([file, args]: [string, string[]], cwd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    // CRIU run as another uid than root keeps its probe of the kernel's features in
    // $XDG_RUNTIME_DIR: here the images directory, its working directory (kernel-features.ts).
    const env = { ...process.env, XDG_RUNTIME_DIR: '.' };
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], timeout: DUMP_TIMEOUT_MS });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('error', (err) => resolve({ code: null, stderr: `${stderr}${err.message}` }));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/**
 * Dump target's tree into dir (made here, 0700, owned by the sandbox's uid). CRIU starts in dir
 * (entered as root, before the uid switch), so dir's parents may stay closed to that uid.
 */
export async function dumpSandbox(tool: CriuTool, target: DumpTarget, dir: string): Promise<DumpResult> {
  const deadline = Date.now() + CONNECTION_GONE_MS;
  let sockets = agentSockets(target.initPid);
  while (sockets.host.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    sockets = agentSockets(target.initPid);
  }
  if (sockets.host.length > 0) {
    throw new MitosError(
      'internal',
      `the agent still holds a connection from the host (${sockets.host.join(' ')})`,
      {},
      {
        remediation: "close the engine's connection to the sandbox's agent before a checkpoint",
      },
    );
  }
  const externalSockets = sockets.listening;
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, target.uidBase, target.uidBase);
  const argv = asNamespaceOwner(target.uidBase, ownCapabilities(), tool.argv(dumpArgs(target, externalSockets)));
  seedKernelFeatures('dump', dir, target.uidBase);
  const { code, stderr } = await runTool(argv, dir);
  if (code !== 0) {
    const logPath = join(dir, 'dump.log');
    const why = existsSync(logPath) ? criuFailure(readFileSync(logPath, 'utf8')) : stderr.trim().slice(-800);
    throw new MitosError(
      'internal',
      `checkpoint of the sandbox's processes failed: ${why}`,
      {},
      {
        remediation: 'fork with processes "none" (files and interpreter state); the parent is unchanged',
      },
    );
  }
  keepKernelFeatures('dump', dir);
  return { dir, externalSockets };
}
