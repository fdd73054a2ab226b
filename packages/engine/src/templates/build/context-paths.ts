/**
 * Paths in a build context. A context is a map of relative POSIX paths to content digests; a
 * copy step's `source` names a file or a directory prefix in it. Every path is checked here
 * once, so a `..`, an absolute path or a NUL never reaches the sandbox or the blob store.
 */
import { posix } from 'node:path';
import { type BuildContext, MitosError } from '@mitos/protocol';

export interface CopiedFile {
  /** Path relative to the copy source ('' when the source is the file itself). */
  rel: string;
  /** Path in the context. */
  path: string;
  sha256: string;
  mode: number;
}

/** A context-relative path made canonical, or an invalid_request naming it. */
export function contextPath(raw: string, what = 'build context path'): string {
  const trimmed = raw.replace(/^\.\/+/, '');
  const norm = posix.normalize(trimmed === '' ? '.' : trimmed).replace(/\/+$/, '');
  if (raw.includes('\0') || posix.isAbsolute(raw) || norm === '..' || norm.startsWith('../')) {
    throw new MitosError(
      'invalid_request',
      `${what} ${JSON.stringify(raw)} leaves the build context`,
      {},
      { remediation: 'name files inside the build context with relative paths (no .. or leading /)' },
    );
  }
  return norm === '' ? '.' : norm;
}

/** Check every path of a context (at request time, before anything is built). */
export function checkContext(context: BuildContext): void {
  for (const path of Object.keys(context.files)) {
    if (contextPath(path) === '.') throw new MitosError('invalid_request', 'a build context file has an empty path');
  }
}

/** The files a copy of `source` takes, sorted by path. Empty when nothing matches. */
export function copiedFiles(context: BuildContext, source: string): CopiedFile[] {
  const src = contextPath(source, 'copy source');
  const out: CopiedFile[] = [];
  for (const [raw, file] of Object.entries(context.files)) {
    const path = contextPath(raw);
    let rel: string | undefined;
    if (src === '.') rel = path;
    else if (path === src) rel = '';
    else if (path.startsWith(`${src}/`)) rel = path.slice(src.length + 1);
    if (rel !== undefined) out.push({ rel, path, sha256: file.sha256, mode: file.mode ?? 0o644 });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Where a copied file lands inside the sandbox: `dest` is a directory when the source is one or
 * dest ends with `/`; a relative dest is under the working directory.
 */
export function copyTarget(dest: string, workdir: string, file: CopiedFile, sourceIsDir: boolean): string {
  const base = posix.isAbsolute(dest) ? dest : posix.join(workdir, dest);
  if (file.rel === '') {
    return dest.endsWith('/') || sourceIsDir ? posix.join(base, posix.basename(file.path)) : posix.normalize(base);
  }
  return posix.join(base, file.rel);
}
