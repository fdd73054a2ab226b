/**
 * Who in a sandbox holds a socket: read from the host's /proc, so a fork's report can name the
 * process (its in-sandbox pid and command line) whose connection was closed in the children
 * (closed-sockets.ts).
 */
import { readFileSync } from 'node:fs';
import { processTree, socketInodes } from './tree.js';

export interface SocketOwner {
  /** As the sandbox sees it. */
  pid: number;
  command: string;
}

/** A /proc/net address `HEX:PORT` as text; IPv4 is one little-endian word, IPv6 four. */
export function procAddress(hex: string): { address: string; port: number } {
  const [host = '', port = '0'] = hex.split(':');
  const words = host.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)));
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2)
    groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  const address = bytes.length === 4 ? bytes.join('.') : groups.join(':');
  return { address, port: Number.parseInt(port, 16) };
}

/** The pid a host pid has inside the sandbox (the last NSpid field). */
function sandboxPid(pid: number): number {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
    return Number(line.trim().split(/\s+/).at(-1)) || pid;
  } catch {
    return pid;
  }
}

function command(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * The processes of the tree under initPid holding each of the socket inodes (a socket shared
 * by several processes names each); an inode no process holds any more is left out.
 */
export function socketOwners(initPid: number, inodes: readonly number[]): Map<number, SocketOwner[]> {
  const wanted = new Set(inodes.map(String));
  const out = new Map<number, SocketOwner[]>();
  if (wanted.size === 0) return out;
  for (const pid of processTree(initPid)) {
    for (const inode of socketInodes(pid)) {
      if (!wanted.has(inode)) continue;
      const owners = out.get(Number(inode)) ?? [];
      owners.push({ pid: sandboxPid(pid), command: command(pid) });
      out.set(Number(inode), owners);
    }
  }
  return out;
}
