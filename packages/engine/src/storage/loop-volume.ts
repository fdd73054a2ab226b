/**
 * A btrfs filesystem in a sparse image file, attached to a loop device and mounted. Opening is
 * idempotent and survives a server restart: the kernel's mount table and loop list are the
 * source of truth, never our memory.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statfsSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MitosError } from '@mitos/protocol';
import { mountAt } from '../host/mountinfo.js';
import { run, tryRun } from '../host/run.js';

export const DEFAULT_VOLUME_BYTES = 64 * 1024 ** 3;
// Smallest image mkfs.btrfs accepts with single profiles is ~110 MiB.
const MIN_VOLUME_BYTES = 256 * 1024 ** 2;
const PRIVATE_MOUNT_OPTIONS = 'nosuid,nodev';
const DETACH_TIMEOUT_MS = 30_000;

export interface LoopVolumeOptions {
  /** The image file (`<stateDir>/storage/btrfs.img`). */
  image: string;
  /** Where the filesystem is mounted (an absolute, symlink-free path). */
  mountPoint: string;
  /** Apparent size of a new image; default 64 GiB, capped at 80% of the free space. */
  sizeBytes?: number;
}

export class LoopVolume {
  constructor(private readonly options: LoopVolumeOptions) {}

  get mountPoint(): string {
    return this.options.mountPoint;
  }

  isMounted(): boolean {
    return mountAt(this.options.mountPoint)?.fsType === 'btrfs';
  }

  /** Create the image if missing, attach it, mount it. No-op when already mounted. */
  async ensureMounted(): Promise<void> {
    if (this.isMounted()) {
      await this.makePrivate();
      return;
    }
    if (!existsSync(this.options.image)) await this.createImage();
    const device = (await this.loopDevices())[0] ?? (await this.attach());
    mkdirSync(this.options.mountPoint, { recursive: true, mode: 0o700 });
    // discard=async punches holes in the sparse image when sandboxes are deleted, so the host
    // gets the space back.
    try {
      // nobarrier: a snapshot commits a transaction, and on a loop file each barrier becomes an
      // fsync of the host file: measured here 15 ms -> 5 ms per snapshot under load. The volume
      // holds sandbox roots, which do not outlive a host crash anyway (their processes are gone).
      // nosuid,nodev: a setuid file or device node a sandbox plants is inert for host users.
      await run('mount', [
        '-t',
        'btrfs',
        '-o',
        `noatime,nobarrier,discard=async,${PRIVATE_MOUNT_OPTIONS}`,
        device,
        this.options.mountPoint,
      ]);
    } catch (err) {
      await tryRun('losetup', ['-d', device]);
      throw err;
    }
    // Detaching a mounted loop device only marks it autoclear: the kernel frees it when the
    // filesystem is unmounted, so even a crashed server cannot leak the device past umount.
    await tryRun('losetup', ['-d', device]);
    await this.makePrivate();
  }

  /**
   * Sandbox files are for root only: the image (0600) would let any host user read every
   * sandbox's files from the raw blocks, and the tree is not theirs to traverse. Also applied
   * to volumes made before this rule (remount adds nosuid,nodev).
   */
  private async makePrivate(): Promise<void> {
    chmodSync(dirname(this.options.image), 0o700);
    chmodSync(this.options.image, 0o600);
    chmodSync(this.options.mountPoint, 0o700);
    const mount = mountAt(this.options.mountPoint);
    if (mount && !(mount.options.includes('nosuid') && mount.options.includes('nodev')))
      await run('mount', ['-o', `remount,${PRIVATE_MOUNT_OPTIONS}`, this.options.mountPoint]);
  }

  /** Loop devices currently backed by the image (`losetup -j`). */
  async loopDevices(): Promise<string[]> {
    if (!existsSync(this.options.image)) return [];
    const { stdout } = await run('losetup', ['-j', this.options.image]);
    return stdout
      .split('\n')
      .map((line) => line.split(':')[0]?.trim() ?? '')
      .filter((dev) => dev.startsWith('/dev/'));
  }

  /**
   * Unmount (retrying while busy, lazily only as a last resort) and detach every loop device
   * backing the image; waits until the kernel has really let go of them.
   */
  async unmountAndDetach(): Promise<void> {
    for (let attempt = 0; this.isMounted(); attempt++) {
      const lazy = attempt >= 10;
      const res = await tryRun('umount', lazy ? ['-l', this.options.mountPoint] : [this.options.mountPoint]);
      if (!res.ok && !lazy) await sleep(50 * (attempt + 1));
      if (!res.ok && lazy) throw res.error;
    }
    // Autoclear rundown runs on a kernel workqueue after the last close, and a launcher still
    // starting a sandbox briefly holds a copy of every host mount: poll, generously under load.
    const deadline = Date.now() + DETACH_TIMEOUT_MS;
    for (;;) {
      const devices = await this.loopDevices();
      if (devices.length === 0) return;
      for (const dev of devices) await tryRun('losetup', ['-d', dev]);
      if (Date.now() > deadline) {
        throw new MitosError(
          'internal',
          `loop devices still attached to ${this.options.image}: ${devices.join(', ')}${describeHolders(devices)}`,
        );
      }
      await sleep(50);
    }
  }

  private async attach(): Promise<string> {
    const { stdout } = await run('losetup', ['--find', '--show', this.options.image]);
    const device = stdout.trim();
    if (!device.startsWith('/dev/'))
      throw new MitosError('host_unsupported', `losetup returned no device for ${this.options.image}`);
    return device;
  }

  // Built under a temp name: a crash between truncate and mkfs must not leave an image that
  // later opens fail to mount.
  private async createImage(): Promise<void> {
    const dir = dirname(this.options.image);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const size = this.options.sizeBytes ?? defaultSize(dir);
    if (size < MIN_VOLUME_BYTES)
      throw new MitosError('disk_full', `only ${size} bytes available for the btrfs image in ${dir}`);
    const tmp = `${this.options.image}.tmp`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, '', { mode: 0o600 });
    truncateSync(tmp, size);
    try {
      // Single metadata: DUP on one loop file protects nothing and doubles metadata writes,
      // which is what snapshots are made of.
      await run('mkfs.btrfs', ['-q', '-f', '-m', 'single', '-d', 'single', '-L', 'mitos', tmp]);
      renameSync(tmp, this.options.image);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }
}

/**
 * Which processes still see a mount of these devices in a mount namespace of their own (a copy
 * of the host's taken while the volume was mounted keeps the filesystem, and so the loop
 * device, alive): named in the error so the holder can be found.
 */
function describeHolders(devices: string[]): string {
  const holders: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || holders.length >= 5) continue;
    try {
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      if (!devices.some((d) => mounts.includes(` ${d} `))) continue;
      const ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      if (ns === readlinkSync('/proc/self/ns/mnt')) continue;
      holders.push(`${pid} (${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}, ${ns})`);
    } catch {
      // gone, or not ours to read
    }
  }
  return holders.length > 0 ? `; held in the mount namespaces of ${holders.join(', ')}` : '';
}

// The image is sparse: writes past the host's real free space would fail as I/O errors and
// turn the filesystem read-only, so never promise much more than the host has.
function defaultSize(dir: string): number {
  const st = statfsSync(dir);
  const free = st.bavail * st.bsize;
  return Math.min(DEFAULT_VOLUME_BYTES, Math.floor((free * 0.8) / 4096) * 4096);
}
