/**
 * A lock file that keeps two server processes from building the same image at once. Node has
 * no flock(2), so the lock is an O_EXCL file holding the builder's pid; a lock whose pid is
 * dead is stale (the builder crashed) and is broken by the next contender.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockOptions {
  /** Called once when the lock is held by another live process. */
  onWait?: (holderPid: number | undefined) => void;
  pollMs?: number;
  /** Give up after this long (a real debootstrap can take minutes). */
  timeoutMs?: number;
}

export interface LockHandle {
  readonly path: string;
  release(): void;
}

// Locks this process holds: a lock file naming our own pid that is not in here was left by an
// earlier process that had our pid (pid 1 in a container restarts with the same pid).
const heldHere = new Set<string>();

// A creator writes its pid right after creating the file; an empty file older than this is a
// creator that died in between.
const EMPTY_LOCK_GRACE_MS = 10_000;

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Holder {
  pid: number | undefined;
  ino: number;
  ageMs: number;
}

function readHolder(path: string): Holder | undefined {
  try {
    const st = statSync(path);
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return { pid: Number.isInteger(pid) && pid > 0 ? pid : undefined, ino: st.ino, ageMs: Date.now() - st.mtimeMs };
  } catch {
    return undefined;
  }
}

function isStale(path: string, holder: Holder): boolean {
  if (holder.pid === undefined) return holder.ageMs > EMPTY_LOCK_GRACE_MS;
  if (holder.pid === process.pid) return !heldHere.has(path);
  return !isProcessAlive(holder.pid);
}

/** Take the lock at `path`, waiting while a live process holds it. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<LockHandle> {
  const pollMs = options.pollMs ?? 250;
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60_000);
  let told = false;
  for (;;) {
    let ino: number | undefined;
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      ino = statSync(path).ino;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (ino !== undefined) {
      heldHere.add(path);
      return handle(path, ino);
    }
    const holder = readHolder(path);
    if (holder && isStale(path, holder)) {
      breakStaleLock(path, holder);
      continue;
    }
    if (!holder) continue; // released between our open and our read
    if (!told) {
      options.onWait?.(holder.pid);
      told = true;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${path} held by pid ${holder.pid}`);
    await sleep(pollMs);
  }
}

function breakStaleLock(path: string, holder: Holder): void {
  // Renaming (not unlinking) and checking the inode first narrows the window in which a
  // contender could remove a fresh lock that replaced the stale one to a few microseconds.
  try {
    if (statSync(path).ino !== holder.ino) return;
    const aside = `${path}.stale-${process.pid}-${Date.now()}`;
    renameSync(path, aside);
    unlinkSync(aside);
  } catch {
    // Someone else broke it first; just retry the acquire.
  }
}

function handle(path: string, ino: number): LockHandle {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      heldHere.delete(path);
      try {
        // Only remove the file if it is still ours: a contender may have broken it as stale.
        // The pid check matters too, as a new file can reuse a just-freed inode number.
        const holder = readHolder(path);
        if (holder?.ino === ino && holder.pid === process.pid) unlinkSync(path);
      } catch {
        // Already gone.
      }
    },
  };
}
