/**
 * Filesystem entries in envd's EntryInfo shape, and the few file operations the engine's file
 * API lacks (make a directory as the account, move), run as one shell command in the sandbox.
 */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Engine, FileKind, FileStat } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { type Account, asAccount, shellQuote } from '../accounts.js';
import { FileType } from '../gen/filesystem/filesystem_pb.js';

const TYPES: Record<FileKind, FileType> = {
  file: FileType.FILE,
  dir: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
  other: FileType.UNSPECIFIED,
};

export function toEntryInfo(path: string, stat: FileStat) {
  return {
    name: stat.name,
    type: TYPES[stat.kind],
    path,
    size: BigInt(stat.size),
    mode: stat.mode & 0o777,
    permissions: permissionString(stat.kind, stat.mode),
    // The engine's stat carries no owner; empty says "not reported" rather than guessing.
    owner: '',
    group: '',
    modifiedTime: timestampFromMs(Math.floor(stat.mtimeMs)),
  };
}

function permissionString(kind: FileKind, mode: number): string {
  const first = kind === 'dir' ? 'd' : kind === 'symlink' ? 'l' : '-';
  let out = first;
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    out += `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  }
  return out;
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** A command's failure in the sandbox as the error the SDK should raise. */
async function runChecked(
  engine: Engine,
  sandboxId: string,
  run: { command: string; user?: string },
  what: string,
): Promise<void> {
  const r = await engine.exec(sandboxId, { ...run, timeoutMs: 30_000 });
  if (r.exitCode === 0) return;
  const stderr = r.stderr.toString().trim();
  if (/No such file or directory/.test(stderr)) throw new MitosError('not_found', `${what}: ${stderr}`);
  if (/Permission denied|Operation not permitted/.test(stderr)) throw new MitosError('forbidden', `${what}: ${stderr}`);
  if (/File exists|Directory not empty/.test(stderr)) throw new MitosError('conflict', `${what}: ${stderr}`);
  throw new MitosError('file_failed', `${what}: ${stderr || `exit code ${r.exitCode}`}`);
}

export function makeDirAs(engine: Engine, sandboxId: string, account: Account, path: string): Promise<void> {
  return runChecked(engine, sandboxId, asAccount(account, ['mkdir', '-p', '--', path]), `make directory ${path}`);
}

export function moveAs(engine: Engine, sandboxId: string, account: Account, from: string, to: string): Promise<void> {
  return runChecked(engine, sandboxId, asAccount(account, ['mv', '-T', '--', from, to]), `move ${from} to ${to}`);
}

/**
 * After a write by the engine (as root), give the file, and the directories the write created
 * inside the account's home, to the account, as envd does for the user it acts as.
 */
export function giveTo(engine: Engine, sandboxId: string, path: string, account: Account): Promise<void> {
  const owner = `${account.uid}:${account.gid}`;
  const home = account.home.replace(/\/+$/, '');
  const script = [
    `f=${shellQuote(path)}`,
    `chown -h ${owner} -- "$f"`,
    'd=$(dirname -- "$f")',
    // An account whose home is / owns only what it wrote.
    `while [ -n ${shellQuote(home)} ] && case "$d" in ${shellQuote(home)}/*) true;; *) false;; esac; do`,
    `  [ "$(stat -c %u -- "$d")" = 0 ] && chown ${owner} -- "$d"`,
    '  d=$(dirname -- "$d")',
    'done',
    'true',
  ].join('\n');
  return runChecked(engine, sandboxId, { command: script }, `set the owner of ${path}`);
}
