/**
 * Turns a debootstrap result into a template tree: drop what only the build needed, write
 * placeholders the launcher replaces per sandbox, and remove device nodes (a sandbox gets its
 * own minimal /dev; a node left in the shared tree could otherwise be opened).
 *
 * Every write first unlinks the path: a tree may hold absolute symlinks (resolv.conf ->
 * /run/...) and following one from the host would write a host file.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_RESOLV_CONF } from '../network/resolv-conf.js';

const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

function replaceFile(path: string, content: string, mode = 0o644): void {
  rmSync(path, { force: true, recursive: true });
  writeFileSync(path, content, { flag: 'wx', mode });
  chmodSync(path, mode);
}

function emptyDir(dir: string, keep: (name: string) => boolean = () => false): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (!keep(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

function ensureDir(path: string, mode: number): void {
  try {
    if (!lstatSync(path).isDirectory()) unlinkSync(path);
  } catch {
    // Missing: created below.
  }
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
}

export function postprocessTree(root: string): void {
  // Downloaded .debs and package lists: ~100-250 MB that no sandbox reads (apt-get update refills).
  emptyDir(join(root, 'var/cache/apt/archives'), (n) => n === 'partial' || n === 'lock');
  for (const name of ['pkgcache.bin', 'srcpkgcache.bin']) rmSync(join(root, 'var/cache/apt', name), { force: true });
  emptyDir(join(root, 'var/lib/apt/lists'), (n) => n === 'partial' || n === 'lock');

  emptyDir(join(root, 'dev'));
  ensureDir(join(root, 'dev'), 0o755);

  mkdirSync(join(root, 'etc'), { recursive: true });
  replaceFile(join(root, 'etc/hostname'), 'mitos\n');
  replaceFile(join(root, 'etc/hosts'), HOSTS);
  replaceFile(join(root, 'etc/resolv.conf'), IMAGE_RESOLV_CONF);

  ensureDir(join(root, 'workspace'), 0o755);
  ensureDir(join(root, 'tmp'), 0o1777);
}
