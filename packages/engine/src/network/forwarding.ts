/**
 * The host's IP forwarding, which sandbox links need. It is a host-wide setting shared by every
 * mitos server on the host: the server that finds it off turns it on and leaves a marker
 * saying so; when a server drops the last mitos table on the host, it turns forwarding back
 * off if the marker is there. A lock directory orders "turn on, then build a table" against
 * "no table left, turn off", so one server never switches routing off under another's links.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isProcessAlive } from '../templates/build-lock.js';

export interface Forwarding {
  /** The sysctl files to switch (IPv4 and IPv6). */
  files: string[];
  /** Marker (JSON list of the files we switched on) and lock directory. */
  marker: string;
  lock: string;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

export const HOST_FORWARDING: Omit<Forwarding, 'log'> = {
  files: ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'],
  marker: '/run/mitos-forwarding.json',
  lock: '/run/mitos-forwarding.lock',
};

/** Turn forwarding on (recording what we switched), then run `build` before anyone may turn it off. */
export function withForwardingOn<T>(f: Forwarding, build: () => Promise<T>): Promise<T> {
  return locked(f, async () => {
    const switched = new Set(readMarker(f));
    for (const file of f.files) {
      if (!existsSync(file) || readFileSync(file, 'utf8').trim() === '1') continue;
      writeFileSync(file, '1');
      switched.add(file);
      f.log('info', 'enabled IP forwarding for sandbox networking', { sysctl: file });
    }
    if (switched.size > 0) writeFileSync(f.marker, JSON.stringify([...switched]));
    return build();
  });
}

/**
 * Run `teardown` (which drops a table), then, if no mitos table is left on the host and
 * forwarding was switched on by us, switch it back off.
 */
export function withForwardingRestored(
  f: Forwarding,
  teardown: () => Promise<void>,
  tablesLeft: () => Promise<boolean>,
): Promise<void> {
  return locked(f, async () => {
    await teardown();
    const switched = readMarker(f);
    if (switched.length === 0 || (await tablesLeft())) return;
    for (const file of switched) {
      writeFileSync(file, '0');
      f.log('info', 'restored IP forwarding: no sandbox network is left', { sysctl: file });
    }
    rmSync(f.marker, { force: true });
  });
}

function readMarker(f: Forwarding): string[] {
  try {
    const list = JSON.parse(readFileSync(f.marker, 'utf8')) as unknown;
    // Only the files this host network names: a marker cannot make us write elsewhere.
    return Array.isArray(list) ? list.filter((x): x is string => f.files.includes(x)) : [];
  } catch {
    return [];
  }
}

async function locked<T>(f: Forwarding, fn: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      mkdirSync(f.lock);
      writeFileSync(`${f.lock}/pid`, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(safeRead(`${f.lock}/pid`));
    if (owner > 0 && !isProcessAlive(owner)) rmSync(f.lock, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`the IP forwarding lock ${f.lock} stayed held by pid ${owner}`);
    else await new Promise((r) => setTimeout(r, 20));
  }
  try {
    return await fn();
  } finally {
    rmSync(f.lock, { recursive: true, force: true });
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
