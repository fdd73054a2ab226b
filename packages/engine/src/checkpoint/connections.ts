/**
 * What of a sandbox's networking a carried fork cannot take into a child with a link of its
 * own: the child's network namespace is restored empty (dump.ts `--empty-ns net`) and gets a
 * new link and address (the driver's attach), so a TCP or UDP socket tied to the parent's
 * address (a connection to outside, or a socket bound to that address) has nothing to come
 * back to. Sockets on loopback or on the wildcard address are carried. Read from the host's
 * /proc before the dump, per process, so a refusal names each.
 */
import { readFileSync } from 'node:fs';
import { processTree, socketInodes } from './tree.js';

export interface TiedSocket {
  /** As the sandbox sees it. */
  pid: number;
  command: string;
  /** e.g. `tcp 10.0.0.2:41234 -> 203.0.113.10:80` */
  socket: string;
}

const TCP_LISTEN = '0A';

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

function local(address: string): boolean {
  return /^127\./.test(address) || address === '0:0:0:0:0:0:0:1' || /^0:0:0:0:0:ffff:7f/.test(address);
}

function wildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '0:0:0:0:0:0:0:0';
}

/** Sockets in one /proc/net table (tcp, tcp6, udp, udp6) tied to a non-loopback address, by inode. */
export function tiedSockets(kind: string, table: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const from = procAddress(cols[1] as string);
    const to = procAddress(cols[2] as string);
    const connected = to.port !== 0 && !(kind.startsWith('tcp') && cols[3] === TCP_LISTEN);
    const tied = connected
      ? !local(to.address) || !local(from.address)
      : !wildcard(from.address) && !local(from.address);
    if (!tied) continue;
    const text = `${kind} ${from.address}:${from.port}${connected ? ` -> ${to.address}:${to.port}` : ' (bound)'}`;
    out.set(cols[9] as string, text);
  }
  return out;
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

/** Every socket of the tree under initPid that a child with its own address could not have. */
export function socketsTiedToAddress(initPid: number): TiedSocket[] {
  const tied = new Map<string, string>();
  for (const kind of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let table = '';
    try {
      table = readFileSync(`/proc/${initPid}/net/${kind}`, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const [inode, text] of tiedSockets(kind, table)) tied.set(inode, text);
  }
  const out: TiedSocket[] = [];
  for (const pid of processTree(initPid)) {
    for (const inode of socketInodes(pid)) {
      const socket = tied.get(inode);
      if (socket) out.push({ pid: sandboxPid(pid), command: command(pid), socket });
    }
  }
  return out;
}
