/**
 * Frozen VM snapshots: guest RAM in a file on /dev/shm (mapped copy-on-write, share=off, by
 * every VM restored from it), the device state (tens of KB, kept in memory), and a frozen
 * qcow2 disk layer that the restored VMs' overlays sit on. A snapshot is never written again
 * once sealed: that is what makes it safe to share (a parent that kept running on its RAM
 * file would leak its writes into its children, so a forked parent is restored like them).
 *
 * Files are owned by root with the snapshot's own group; a VM gets the groups of its snapshot
 * and of every snapshot below it in its disk chain, nothing else.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import type { IdAllocator } from './ids.js';

const MiB = 1024 * 1024;

export interface Snapshot {
  id: string;
  kind: 'template' | 'fork';
  gid: number;
  dir: string;
  ramFile: string;
  /** The frozen disk layer; its own backing chain ends in the template's raw image. */
  disk: string;
  devices: Buffer | undefined;
  memMiB: number;
  vcpus: number;
  parent: Snapshot | undefined;
  /** Groups a VM restored from this snapshot needs (this one and its disk-chain ancestors). */
  groups: number[];
  /** VMs mapping the RAM file (each also has an overlay on the disk layer). */
  readonly ramUsers: Set<string>;
  /** Snapshots whose disk layer is backed by this one. */
  children: number;
  /** Template snapshots live until the engine closes. */
  pinned: boolean;
}

export function shmDirFor(stateDir: string): string {
  return join('/dev/shm', `mitos-vm-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`);
}

export class SnapshotStore {
  private readonly all = new Map<string, Snapshot>();
  readonly root: string;

  constructor(
    stateDir: string,
    readonly shmDir: string,
    private readonly ids: IdAllocator,
  ) {
    this.root = join(stateDir, 'microvm', 'snapshots');
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    chmodSync(this.root, 0o711);
    mkdirSync(shmDir, { recursive: true, mode: 0o711 });
    chmodSync(shmDir, 0o711);
  }

  /** A new, empty snapshot: its directory and a sparse RAM file of the VM's size. */
  create(kind: Snapshot['kind'], memMiB: number, vcpus: number, parent?: Snapshot): Snapshot {
    const id = `${kind === 'template' ? 't' : 'f'}-${randomBytes(6).toString('hex')}`;
    const gid = this.ids.take();
    const dir = join(this.root, id);
    mkdirSync(dir, { mode: 0o750 });
    chownSync(dir, 0, gid);
    chmodSync(dir, 0o750);
    const ramFile = join(this.shmDir, `${id}.ram`);
    // Writable by the group because QEMU 7.2 opens a private (share=off) backing file O_RDWR
    // too; 8.2+ can map a read-only file privately. See README.md, "Security".
    const fd = openSync(ramFile, 'wx', 0o660);
    try {
      ftruncateSync(fd, memMiB * MiB);
      fchownSync(fd, 0, gid);
      fchmodSync(fd, 0o660);
    } finally {
      closeSync(fd);
    }
    const snap: Snapshot = {
      id,
      kind,
      gid,
      dir,
      ramFile,
      disk: join(dir, 'disk.qcow2'),
      devices: undefined,
      memMiB,
      vcpus,
      parent,
      groups: [gid, ...(parent?.groups ?? [])],
      ramUsers: new Set(),
      children: 0,
      pinned: kind === 'template',
    };
    if (parent) parent.children++;
    this.all.set(id, snap);
    return snap;
  }

  /** Freeze: nothing writes the disk layer or the RAM file from now on. */
  seal(snap: Snapshot, devices: Buffer): void {
    snap.devices = devices;
    chownSync(snap.disk, 0, snap.gid);
    chmodSync(snap.disk, 0o440);
  }

  addUser(snap: Snapshot, vmKey: string): void {
    snap.ramUsers.add(vmKey);
  }

  removeUser(snap: Snapshot, vmKey: string): void {
    snap.ramUsers.delete(vmKey);
    this.collect(snap);
  }

  /** Drop what nobody needs: the RAM once no VM maps it, the layer once nothing is backed by it. */
  collect(snap: Snapshot): void {
    if (snap.pinned || snap.ramUsers.size > 0) return;
    rmSync(snap.ramFile, { force: true });
    if (snap.children > 0 || !this.all.has(snap.id)) return;
    this.all.delete(snap.id);
    rmSync(snap.dir, { recursive: true, force: true });
    this.ids.release(snap.gid);
    if (snap.parent) {
      snap.parent.children--;
      this.collect(snap.parent);
    }
  }

  /** Remove a snapshot that never got sealed (a failed build or fork). */
  discard(snap: Snapshot): void {
    snap.pinned = false;
    snap.ramUsers.clear();
    snap.children = 0;
    this.collect(snap);
  }

  /**
   * Give back the zero pages of RAM files. Migrating a VM reads every guest page, and a read of
   * a hole in a tmpfs file allocates it: after a fork the source's template file and the new
   * snapshot's file are full size, mostly zeros. Punching the zero ranges is content-preserving,
   * so it can run while VMs map the files. Queued, one at a time, at the lowest priority.
   */
  compact(...snaps: (Snapshot | undefined)[]): void {
    for (const s of snaps) if (s && !this.compactQueue.includes(s.ramFile)) this.compactQueue.push(s.ramFile);
    if (this.compacting) return;
    const next = this.compactQueue.shift();
    if (!next) return;
    this.compacting = true;
    const child = spawn('nice', ['-n', '19', 'fallocate', '--dig-holes', next], { stdio: 'ignore' });
    this.compactor = child;
    const done = () => {
      this.compacting = false;
      this.compactor = undefined;
      this.compact();
    };
    child.on('exit', done);
    child.on('error', done);
  }

  /**
   * Allocate a fork snapshot's RAM file up front, racing the migration into it (fallocate never
   * changes written data): one kernel call is far cheaper than the page fault per zero page the
   * receiving QEMU takes otherwise. compact() gives the zeros back afterwards.
   */
  preallocate(snap: Snapshot): void {
    const child = spawn('fallocate', ['-l', String(snap.memMiB * MiB), snap.ramFile], { stdio: 'ignore' });
    child.on('error', () => {});
  }

  private readonly compactQueue: string[] = [];
  private compacting = false;
  private compactor: ChildProcess | undefined;

  list(): Snapshot[] {
    return [...this.all.values()];
  }

  /** Engine shutdown: every snapshot goes (VMs do not survive an engine restart). */
  destroyAll(): void {
    this.compactQueue.length = 0;
    this.compactor?.kill('SIGKILL');
    for (const s of this.all.values()) {
      rmSync(s.ramFile, { force: true });
      rmSync(s.dir, { recursive: true, force: true });
      this.ids.release(s.gid);
    }
    this.all.clear();
    if (existsSync(this.shmDir)) rmSync(this.shmDir, { recursive: true, force: true });
  }
}
