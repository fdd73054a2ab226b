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

/**
 * Inodes of the unix sockets held by the agent's processes (those running the agent program).
 * A sandbox process may exec that program too (it only gets a refusal or a usage line), and at
 * worst its own sockets are then left out of its own sandbox's checkpoint.
 */
export function agentUnixSockets(initPid: number): string[] {
  const unix = new Set(
    readFileSync(`/proc/${initPid}/net/unix`, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[6])
      .filter((inode): inode is string => Boolean(inode)),
  );
  const found = new Set<string>();
  for (const pid of processTree(initPid)) {
    if (exe(pid) !== AGENT_PROGRAM) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && unix.has(inode)) found.add(inode);
    }
  }
  return [...found].sort();
}
