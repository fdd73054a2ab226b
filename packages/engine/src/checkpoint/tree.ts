/**
 * The host's view of one sandbox's process tree, for a checkpoint: its pids, and the unix
 * sockets its agent holds (the listening socket and the engine's connections, whose other
 * ends are in the host), which a dump records as external rather than following them out.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Where every agent-side process runs its program from (pid 1's bind, launch.h). */
const AGENT_PROGRAM = '/opt/mitos/init';

function children(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return []; // gone meanwhile
  }
}

/** initPid and every descendant (threads of one process count once). */
export function processTree(initPid: number): number[] {
  const out: number[] = [];
  const queue = [initPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...children(pid));
  }
  return out;
}

function exe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

export interface AgentSockets {
  /**
   * Bound to a path in the sandbox's network namespace: the agent's listening socket, whose
   * path is on the host (a restore gives each child its own). The agent's socket pairs are
   * not listed: both ends are in the tree, and CRIU carries them itself.
   */
  listening: string[];
  /**
   * Not there: connections from the host (an accepted unix socket belongs to the connecting
   * side's namespace), which CRIU cannot find in the sandbox's and refuses to dump.
   */
  host: string[];
}

export function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) out.push(inode);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Inodes in a /proc/<pid>/net/unix listing; with `bound`, only those with a path. */
function unixInodes(netUnix: string, bound = false): Set<string> {
  return new Set(
    netUnix
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[6] && (!bound || (cols[7] ?? '').startsWith('/')))
      .map((cols) => cols[6] as string),
  );
}

/**
 * The unix sockets held by the agent's processes (those running the agent program). A sandbox
 * process may exec that program too (it only gets a refusal or a usage line); at worst its own
 * sockets are then treated as the agent's in its own sandbox's checkpoint.
 */
export function agentSockets(initPid: number): AgentSockets {
  const sandbox = unixInodes(readFileSync(`/proc/${initPid}/net/unix`, 'utf8'), true);
  const hostUnix = unixInodes(readFileSync('/proc/self/net/unix', 'utf8'));
  const listening = new Set<string>();
  const host = new Set<string>();
  for (const pid of processTree(initPid)) {
    if (exe(pid) !== AGENT_PROGRAM) continue;
    for (const inode of socketInodes(pid)) {
      if (sandbox.has(inode)) listening.add(inode);
      else if (hostUnix.has(inode)) host.add(inode);
    }
  }
  return { listening: [...listening].sort(), host: [...host].sort() };
}
