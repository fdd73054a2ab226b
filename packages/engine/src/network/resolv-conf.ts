/**
 * Every sandbox's /etc/resolv.conf names the server's resolver address, written into its new
 * root before anything runs in it. Any address would do (nftables redirects a sandbox's port 53
 * to the resolver whatever the destination); this one belongs to the server's own block, so it
 * means nothing else. A sandbox without a link fails its lookups at once (no route).
 */
import { chownSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RootLayout } from '../storage/storage.js';

/** Where a root's own writes land: the whole tree of a bind root, the upper layer of an overlay. */
function writableTree(root: RootLayout): string {
  return root.kind === 'bind' ? root.rootfs : root.upperdir;
}

/** What a template image holds: the launcher writes each sandbox's own at start. */
export const IMAGE_RESOLV_CONF = '# mitos: no DNS until the sandbox network policy allows egress\n';

export function resolvConf(nameserver: string): string {
  return `# mitos: the server's resolver answers what this sandbox's network posture allows\nnameserver ${nameserver}\noptions timeout:2 attempts:2\n`;
}

/**
 * Write resolv.conf into a fresh root (`diskRoot`: the uid that is root inside, on disk). The
 * root comes from an image, which may hold symlinks: nothing here follows one.
 */
export function writeResolvConf(root: RootLayout, diskRoot: number, nameserver: string): void {
  const etc = join(writableTree(root), 'etc');
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(etc);
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) return; // /etc is a symlink or a file in this image: leave it be
  if (!st) {
    // An overlay upper layer has no /etc until something writes there: make it root's inside.
    mkdirSync(etc, { mode: 0o755 });
    chownSync(etc, diskRoot, diskRoot);
  }
  const path = join(etc, 'resolv.conf');
  rmSync(path, { force: true });
  writeFileSync(path, resolvConf(nameserver), { flag: 'wx', mode: 0o644 });
  chownSync(path, diskRoot, diskRoot);
}

/**
 * Before a build step's root is published as an image: put back the image's placeholder where
 * the file is still the one the launcher wrote, so an image never carries one server's resolver
 * address (a pushed image would hand it to every runtime that pulls it). A step that wrote its
 * own resolv.conf keeps it, as it asked.
 */
export function restoreImageResolvConf(root: RootLayout, nameserver: string): void {
  const path = join(writableTree(root), 'etc', 'resolv.conf');
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
    if (!st.isFile() || readFileSync(path, 'utf8') !== resolvConf(nameserver)) return;
  } catch {
    return;
  }
  rmSync(path, { force: true });
  writeFileSync(path, IMAGE_RESOLV_CONF, { flag: 'wx', mode: 0o644 });
  chownSync(path, st.uid, st.gid);
}
