/**
 * Picks and opens the storage backend: btrfs snapshots where the host can (milliseconds per
 * fork), overlay with copied uppers elsewhere.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MitosError } from '@mitos/protocol';
import { BtrfsStorage } from './btrfs.js';
import { OverlayStorage } from './overlay.js';
import { probeBtrfs } from './probe.js';
import type { SandboxStorage } from './storage.js';

export type StorageKind = 'btrfs' | 'overlay';

export interface OpenStorageOptions {
  stateDir: string;
  prefer?: StorageKind;
  /** Host uid of sandbox root (overlay chowns each sandbox's upper to it). Default 100000. */
  uidBase?: number;
  /** Size of a new btrfs image file (sparse). */
  btrfsSizeBytes?: number;
  /** Enable btrfs quota groups (per-sandbox usage; slower snapshots). */
  btrfsQuotas?: boolean;
  /** Faster snapshots than the btrfs tool (see BtrfsStorageOptions.snapshotter). */
  btrfsSnapshotter?: (source: string, targets: string[]) => Promise<void>;
  /** Deletes without naming the path in a command line (see BtrfsStorageOptions.subvolumeDeleter). */
  btrfsSubvolumeDeleter?: (path: string) => Promise<boolean>;
  /** Turns on btrfs simple quotas (see BtrfsStorageOptions.simpleQuotas). */
  btrfsSimpleQuotas?: (mountPoint: string) => Promise<boolean>;
  env?: NodeJS.ProcessEnv;
}

/**
 * Which backend to use: MITOS_STORAGE, then `prefer`, then whatever this state dir already
 * holds (switching would orphan its sandboxes), then btrfs if the host supports it.
 */
export function chooseStorage(options: OpenStorageOptions): { kind: StorageKind; explicit: boolean } {
  const forced = (options.env ?? process.env).MITOS_STORAGE;
  if (forced) {
    if (forced !== 'btrfs' && forced !== 'overlay') {
      throw new MitosError('invalid_request', `MITOS_STORAGE must be btrfs or overlay, not ${JSON.stringify(forced)}`);
    }
    return { kind: forced, explicit: true };
  }
  if (options.prefer) return { kind: options.prefer, explicit: true };
  const dir = join(options.stateDir, 'storage');
  if (existsSync(join(dir, 'btrfs.img'))) return { kind: 'btrfs', explicit: false };
  if (existsSync(join(dir, 'sandboxes')) || existsSync(join(dir, 'images')))
    return { kind: 'overlay', explicit: false };
  return { kind: probeBtrfs().ok ? 'btrfs' : 'overlay', explicit: false };
}

/** Open the chosen backend; an automatic btrfs choice that fails to open falls back to overlay. */
export async function openStorage(options: OpenStorageOptions): Promise<SandboxStorage> {
  const { kind, explicit } = chooseStorage(options);
  if (kind === 'btrfs') {
    const image = join(options.stateDir, 'storage', 'btrfs.img');
    const hadImage = existsSync(image);
    const btrfs = new BtrfsStorage({
      stateDir: options.stateDir,
      sizeBytes: options.btrfsSizeBytes,
      quotas: options.btrfsQuotas,
      snapshotter: options.btrfsSnapshotter,
      subvolumeDeleter: options.btrfsSubvolumeDeleter,
      simpleQuotas: options.btrfsSimpleQuotas,
    });
    try {
      await btrfs.open();
      return btrfs;
    } catch (err) {
      await btrfs.destroy().catch(() => {});
      if (explicit) throw err;
      // An image we just made but cannot mount would pin this state dir to btrfs next time.
      if (!hadImage) rmSync(image, { force: true });
    }
  }
  const overlay = new OverlayStorage({ stateDir: options.stateDir, uidBase: options.uidBase });
  await overlay.open();
  return overlay;
}

export { BtrfsStorage } from './btrfs.js';
export { OverlayStorage } from './overlay.js';
export type { RootLayout, SandboxStorage } from './storage.js';
