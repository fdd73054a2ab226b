/**
 * V8's code cache for the command's bundle, kept per user: Node 20 has no compile cache of its
 * own, and compiling the ~440 KB bundle is most of what the command costs over bare `node`.
 *
 * The cache is machine code's input (V8 bytecode), so it is only read from a place nobody else
 * can write: a directory and file owned by this user with no group or other write bit, under
 * $XDG_CACHE_HOME (or ~/.cache)/mitos/cli. Its name carries the bundle's content hash, the Node
 * version and the architecture, so a cache of another build or Node is never opened; V8 checks
 * its version and flags once more and rejects a mismatch (the bundle is then compiled as if
 * there were no cache). Any failure here only means no cache: the command runs either way.
 * @module
 */
import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CompileCache {
  /** The cached data for this bundle, if a trusted one is there. */
  readonly data: Buffer | undefined;
  /** Store what `data()` returns (atomically; any error, its own too, means no cache). */
  save(data: () => Buffer): void;
}

/** The directory the caches live in for this user (undefined: no home to keep one in). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.XDG_CACHE_HOME?.startsWith('/')) return join(env.XDG_CACHE_HOME, 'mitos', 'cli');
  try {
    // Throws for a uid with no passwd entry and no HOME (a container's arbitrary user).
    return join(homedir(), '.cache', 'mitos', 'cli');
  } catch {
    return undefined;
  }
}

/** True when only `uid` can change what `path` names (its owner, no group/other write, no symlink). */
export function ownedOnlyBy(path: string, uid: number, kind: 'file' | 'directory'): boolean {
  try {
    const st = lstatSync(path);
    const right = kind === 'file' ? st.isFile() : st.isDirectory();
    return right && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** The cache named `bundleKey` (the bundle's content hash and what ran it), in `dir`. */
export function openCompileCache(bundleKey: string, dir = cacheDir()): CompileCache {
  const uid = process.getuid?.();
  // Without a uid (Windows) ownership cannot be checked: no cache.
  if (uid === undefined || dir === undefined) return { data: undefined, save: () => {} };
  const file = join(dir, `${bundleKey}-${process.version}-${process.arch}.v8cache`);
  return { data: readTrusted(dir, file, uid), save: (data) => saveCache(dir, file, uid, data) };
}

function readTrusted(dir: string, file: string, uid: number): Buffer | undefined {
  if (!ownedOnlyBy(dir, uid, 'directory')) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    // The descriptor's own file: what was checked is what is read.
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function saveCache(dir: string, file: string, uid: number, data: () => Buffer): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedOnlyBy(dir, uid, 'directory')) return;
    // Another `mitos` may write the same file at once: each writes its own, the rename is atomic.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, data(), { mode: 0o600 });
    renameSync(partial, file);
    pruneOld(dir, file);
  } catch {
    // A read-only or full home: the next run compiles again.
  }
}

/** Caches kept per user: each build (and Node) writes one per top-level command it ran. */
const KEPT = 32;

/** Remove all but `current` and the most recently written others, KEPT in all (older builds' and Nodes'). */
function pruneOld(dir: string, current: string): void {
  const caches = readdirSync(dir)
    .filter((name) => name.endsWith('.v8cache') && join(dir, name) !== current)
    .map((name) => ({ path: join(dir, name), at: statSync(join(dir, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of caches.slice(KEPT - 1)) rmSync(old.path, { force: true });
}
