/**
 * What a bench run must leave as it found it. Peer runtimes run as root and bind the host's
 * device nodes into their containers; one once left the host's /dev/null owned by the sandbox
 * uid range, which a sandbox could then chmod. The run records the device nodes' owner and
 * mode before it starts and compares after it ends; a difference is restored and reported.
 * @module
 */
import { chmodSync, chownSync, statSync } from 'node:fs';

export const TRACED_DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx'];

export interface DeviceState {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

export function snapshotDevices(devDir = '/dev'): DeviceState[] {
  const out: DeviceState[] = [];
  for (const name of TRACED_DEVICES) {
    const path = `${devDir}/${name}`;
    try {
      const st = statSync(path);
      out.push({ path, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 });
    } catch {
      // absent on this host: nothing to compare
    }
  }
  return out;
}

/** Differences from `before`, each restored; an empty list means the host is as it was. */
export function restoreDevices(before: readonly DeviceState[]): string[] {
  const changed: string[] = [];
  for (const was of before) {
    let uid: number;
    let gid: number;
    let mode: number;
    try {
      const st = statSync(was.path);
      [uid, gid, mode] = [st.uid, st.gid, st.mode & 0o7777];
    } catch {
      changed.push(`${was.path} is gone`);
      continue;
    }
    if (uid === was.uid && gid === was.gid && mode === was.mode) continue;
    changed.push(
      `${was.path} was ${was.uid}:${was.gid} ${was.mode.toString(8)}, found ${uid}:${gid} ${mode.toString(8)}`,
    );
    chownSync(was.path, was.uid, was.gid);
    chmodSync(was.path, was.mode);
  }
  return changed;
}
