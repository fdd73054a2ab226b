/**
 * Host ids for VMs: every QEMU process runs as its own uid (so one compromised QEMU cannot
 * signal, ptrace or read another), and every snapshot gets a group that only the VMs restored
 * from it (or from a snapshot above it in the disk chain) carry. One range serves both; it must
 * belong to no real user and must not overlap the container driver's range (100000-165535).
 */
export const DEFAULT_VM_ID_BASE = 200_000;
export const VM_ID_COUNT = 16_384;

export class IdAllocator {
  private readonly used = new Set<number>();
  private next = 0;

  constructor(
    readonly base = DEFAULT_VM_ID_BASE,
    readonly count = VM_ID_COUNT,
  ) {}

  take(): number {
    for (let i = 0; i < this.count; i++) {
      const id = this.base + ((this.next + i) % this.count);
      if (this.used.has(id)) continue;
      this.used.add(id);
      // Round-robin: a just-released id (whose files may linger) is not handed out again at once.
      this.next = (id - this.base + 1) % this.count;
      return id;
    }
    throw new Error(`all ${this.count} VM ids starting at ${this.base} are in use`);
  }

  release(id: number): void {
    this.used.delete(id);
  }
}
