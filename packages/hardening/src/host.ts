/**
 * Looking at the host from outside the engine: what a test state directory left behind, the
 * host pids and cgroup of one sandbox, and whether the host itself is still well. Reads the
 * kernel's own tables (mountinfo, losetup, cgroupfs, /proc), never the engine's bookkeeping,
 * which is what is under test; only the name of a sandbox's cgroups comes from its database,
 * the one place that records it (a pooled sandbox keeps its launch name when handed out).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every cgroup directory named `parent` (one per v1 hierarchy, or the v2 one). */
export function cgroupParentDirs(parent: string): string[] {
  const dirs: string[] = [];
  const unified = join(CGROUP_ROOT, parent);
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers')) && existsSync(unified)) dirs.push(unified);
  for (const ctl of safeReaddir(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, ctl, parent);
    if (existsSync(dir)) dirs.push(dir);
  }
  return dirs;
}

/** Remove the (emptied) cgroup parent of a test, in every hierarchy. */
export function removeCgroupParentDirs(parent: string): void {
  for (const dir of cgroupParentDirs(parent)) {
    for (const child of safeReaddir(dir, true)) rmdirSync(join(dir, child));
    rmdirSync(dir);
  }
}

/** One read of the server's database in `stateDir`, opened read-only and closed after. */
function readStateDb<T>(stateDir: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(stateDir, 'mitos.db'), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The name of a live sandbox's cgroups, read from the server's database in `stateDir`. */
export function sandboxCgroupName(stateDir: string, sandboxId: string): string {
  const row = readStateDb(
    stateDir,
    (db) =>
      db.prepare('SELECT COALESCE(cgroup_key, id) AS name FROM sandboxes WHERE id = ?').get(sandboxId) as
        | { name: string }
        | undefined,
  );
  if (!row) throw new Error(`sandbox ${sandboxId} has no row in ${stateDir}/mitos.db`);
  return row.name;
}

/**
 * The cgroup names of the sandboxes `owns` accepts, from the server's database: a sandbox
 * handed out by the warm pool keeps the cgroups it was launched with, so its name is not its id.
 */
export function cgroupNamesOf(stateDir: string, owns: (id: string) => boolean): Set<string> {
  const rows = readStateDb(
    stateDir,
    (db) =>
      db.prepare('SELECT id, COALESCE(cgroup_key, id) AS name FROM sandboxes').all() as Array<{
        id: string;
        name: string;
      }>,
  );
  return new Set(rows.filter((r) => owns(r.id)).map((r) => r.name));
}

/**
 * The cgroup names of the fork slots a state directory's engine holds: a slot (children
 * launched ahead of forks, named `slot.<tag>`) owns a uid range in the engine's database until
 * it is used or ended, and an engine removes a dead one's slots, rows and cgroups, at its start.
 */
export function slotCgroupNamesOf(stateDir: string): Set<string> {
  const rows = readStateDb(
    stateDir,
    (db) =>
      db.prepare("SELECT sandbox_id FROM uid_ranges WHERE sandbox_id LIKE 'slot.%'").all() as Array<{
        sandbox_id: string;
      }>,
  );
  return new Set(rows.map((r) => r.sandbox_id));
}

/** Host pids of every task in one sandbox's cgroups (`name`: see sandboxCgroupName). */
export function sandboxHostPids(parent: string, name: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupParentDirs(parent)) {
    for (const file of [join(dir, name, 'cgroup.procs')]) {
      try {
        for (const line of readFileSync(file, 'utf8').split('\n')) if (line) pids.add(Number(line));
      } catch {
        // not in this hierarchy
      }
    }
  }
  return [...pids];
}

export function sandboxCgroupExists(parent: string, name: string): boolean {
  return cgroupParentDirs(parent).some((dir) => existsSync(join(dir, name)));
}

/** A cgroup control file of the sandbox, from whichever hierarchy has it. */
export function sandboxCgroupFile(parent: string, name: string, file: string): string | undefined {
  for (const dir of cgroupParentDirs(parent)) {
    try {
      return readFileSync(join(dir, name, file), 'utf8').trim();
    } catch {
      // not this hierarchy
    }
  }
  return undefined;
}

/**
 * Freeze a sandbox's cgroup behind the engine's back, as a crash mid-fork leaves it: through
 * the freezer the engine itself uses (the v1 freezer where it is mounted, else cgroup2's
 * cgroup.freeze). `name`: see sandboxCgroupName.
 */
export function freezeSandbox(parent: string, name: string): void {
  const dirs = cgroupParentDirs(parent).map((dir) => join(dir, name));
  const v1 = dirs.map((dir) => join(dir, 'freezer.state')).filter((file) => existsSync(file));
  const files = v1.length > 0 ? v1 : dirs.map((dir) => join(dir, 'cgroup.freeze')).filter((f) => existsSync(f));
  if (files.length === 0) throw new Error(`no freezer for cgroup ${name} under ${parent}`);
  for (const file of files) writeFileSync(file, file.endsWith('freezer.state') ? 'FROZEN' : '1');
}

/** Alive and not a zombie. */
/** The parent of a live process, from /proc/PID/stat (undefined once it is gone). */
export function parentPidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * What a state directory left on the host: mounts and loop devices under it, cgroups under
 * its parent, and processes in those cgroups or naming it on their command line.
 */
export function leaksOf(stateDir: string, cgroupParent: string, opts: { ignorePids?: number[] } = {}): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountpoint = line.split(' ')[4];
    if (mountpoint?.startsWith(stateDir)) out.push(`mount ${mountpoint}`);
  }
  const loops = spawnSync('losetup', ['-a'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of loops.split('\n')) if (line.includes(stateDir)) out.push(`loop ${line.trim()}`);
  for (const dir of cgroupParentDirs(cgroupParent)) {
    for (const entry of safeReaddir(dir, true)) out.push(`cgroup ${join(dir, entry)}`);
  }
  const ignore = new Set([process.pid, ...(opts.ignorePids ?? [])]);
  for (const name of safeReaddir('/proc')) {
    if (!/^\d+$/.test(name) || ignore.has(Number(name))) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cgroup = readFileSync(`/proc/${name}/cgroup`, 'utf8');
      if (!pidAlive(Number(name))) continue;
      if (cmd.includes(stateDir) || cgroup.includes(`/${cgroupParent}/`))
        out.push(`process ${name} ${cmd.slice(0, 100)}`);
    } catch {
      // exited while we looked
    }
  }
  return out;
}

export interface HostHealth {
  ok: boolean;
  detail: string;
}

/**
 * The host can still do its job: it can fork and run a program, has memory to spare, and the
 * root filesystem (where the state directory's image lives) is not full.
 */
export function hostHealth(): HostHealth {
  const started = performance.now();
  const probe = spawnSync('/bin/true', { timeout: 10_000 });
  const forkMs = performance.now() - started;
  const fs = statfsSync('/');
  const rootFreePct = (fs.bavail / fs.blocks) * 100;
  const freeMiB = freemem() / 2 ** 20;
  const ok = probe.status === 0 && forkMs < 5_000 && freeMiB > 256 && rootFreePct > 2;
  return {
    ok,
    detail: `fork+exec ${forkMs.toFixed(1)} ms, free memory ${freeMiB.toFixed(0)} MiB, root fs ${rootFreePct.toFixed(1)}% free`,
  };
}

function safeReaddir(dir: string, dirsOnly = false): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => !dirsOnly || e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}
