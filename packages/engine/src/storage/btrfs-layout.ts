/**
 * The overlay layout of a sandbox's btrfs subvolume: `upper/` (its writes), `work/` (overlayfs's
 * own), `rootfs/` (where the launcher mounts the merged root) and `layout.json` naming the
 * image keys of its lower layers. A subvolume without `layout.json` is a root made before this
 * layout, a whole-tree snapshot mounted as it is.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkName } from './names.js';
import type { RootLayout } from './storage.js';

interface LayoutFile {
  /** Image keys of the lower layers, topmost first. */
  lowers: string[];
}

const LAYOUT_FILE = 'layout.json';

export function layoutAt(dir: string, imagesDir: string): RootLayout {
  let layout: LayoutFile;
  try {
    layout = JSON.parse(readFileSync(join(dir, LAYOUT_FILE), 'utf8')) as LayoutFile;
  } catch {
    return { kind: 'bind', rootfs: dir };
  }
  return {
    kind: 'overlay',
    lowerdirs: layout.lowers.map((key) => join(imagesDir, checkName('image key', key))),
    upperdir: join(dir, 'upper'),
    workdir: join(dir, 'work'),
    rootfs: join(dir, 'rootfs'),
  };
}

/** The empty upper of a new sandbox of `imageKey`, written into the (new) subvolume `dir`. */
export function writeSeed(dir: string, image: string, imageKey: string): void {
  // The merged root directory takes its owner and mode from the upper's root. Ids here are the
  // on-disk range the launcher idmaps into each sandbox's own, like the image's.
  const top = lstatSync(image);
  mkdirSync(join(dir, 'upper'));
  chownSync(join(dir, 'upper'), top.uid, top.gid);
  chmodSync(join(dir, 'upper'), top.mode & 0o7777);
  // Overlay's own bookkeeping, done as host root.
  mkdirSync(join(dir, 'work'), { mode: 0o700 });
  mkdirSync(join(dir, 'rootfs'), { mode: 0o755 });
  const layout: LayoutFile = { lowers: [imageKey] };
  writeFileSync(join(dir, LAYOUT_FILE), `${JSON.stringify(layout)}\n`, { mode: 0o600 });
}
