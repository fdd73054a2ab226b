/**
 * Where sandbox root filesystems live. A template image is imported once as a read-only base;
 * each sandbox gets its own writable copy-on-write root; a fork snapshots a sandbox's root.
 */

/** How the launcher turns a sandbox's storage into its `/`. */
export type RootLayout =
  /** A ready directory tree (a btrfs snapshot): bind-mounted as the new root. */
  | { kind: 'bind'; rootfs: string }
  /**
   * An overlay the launcher mounts onto `rootfs` in its private mount namespace, every layer
   * idmapped from the on-disk range into the sandbox's own. `upperdir` and `workdir` are
   * siblings (one idmapped clone of their parent carries both).
   */
  | { kind: 'overlay'; lowerdirs: string[]; upperdir: string; workdir: string; rootfs: string };

export interface SandboxStorage {
  readonly kind: 'btrfs' | 'overlay';
  /** Prepare backing storage (create/mount the loop volume). Idempotent; safe after a restart. */
  open(): Promise<void>;
  /** True when the template image with this content key has been imported. */
  hasImage(key: string): boolean;
  /**
   * Copy a built root filesystem (already shifted to the sandbox uid range) into storage as a
   * read-only base under `key`. Idempotent; concurrent calls for one key import once.
   */
  importImage(key: string, sourceDir: string): Promise<void>;
  /**
   * Publish image `key` as what `fill` makes of a writable copy of image `parent` (an empty
   * tree without one), sharing the parent's unchanged data where the backend can. Optional.
   */
  deriveImage?(key: string, parent: string | undefined, fill: (dir: string) => Promise<void>): Promise<void>;
  /**
   * Create the writable root of a new sandbox from an imported image. With `wholeTree`, the
   * root is a whole copy of the image rather than layered over it (a template build step's
   * root, which commitRoot publishes as an image in turn).
   */
  createRoot(sandboxId: string, imageKey: string, options?: { wholeTree?: boolean }): Promise<RootLayout>;
  /** Snapshot the (frozen) root of `sourceId` as the root of `targetId`. */
  snapshotRoot(sourceId: string, targetId: string): Promise<RootLayout>;
  /** The same for several targets at once (one consistent instant, one pass). */
  snapshotRoots(sourceId: string, targetIds: string[]): Promise<RootLayout[]>;
  /** The layout of an existing sandbox root (used to reattach after restart), if present. */
  rootLayout(sandboxId: string): RootLayout | undefined;
  /**
   * Give a live sandbox root a new id (a pooled sandbox taken by a create). Optional: backends
   * that cannot rename a root in use leave it out, and the engine then runs without a pool.
   */
  renameRoot?(fromId: string, toId: string): void;
  /**
   * Cap the bytes a sandbox root may take (its own writes, nested subvolumes included); writes
   * past it fail with EDQUOT inside the sandbox. Optional: backends without it refuse limits.
   */
  limitDisk?(sandboxId: string, bytes: number): Promise<void>;
  /**
   * Publish a read-only copy of a sandbox's root as the image `key` (a template build step).
   * With `replace`, an existing image of that key is replaced (a --no-cache rebuild).
   * Optional: backends without it cannot build templates.
   */
  commitRoot?(sandboxId: string, key: string, replace?: boolean): Promise<void>;
  /** Where an imported image's tree is on the host (read it as root, never follow its links). */
  imagePath?(key: string): string;
  /** Keys of every imported image. */
  listImages?(): string[];
  /** Remove an imported image (sandboxes made from it keep their own copy). Missing: no error. */
  removeImage?(key: string): Promise<void>;
  /** Remove a sandbox root and everything in it. Missing roots are not an error. */
  removeRoot(sandboxId: string): Promise<void>;
  /** Ids of every sandbox root present (to reap orphans). */
  listRoots(): string[];
  /** Bytes used by one sandbox's own writes (exclusive), where the backend can tell. */
  usage(sandboxId: string): Promise<{ exclusiveBytes: number; sharedBytes: number } | undefined>;
  /** Unmount and detach everything this storage mounted (end of tests, `mitos serve --cleanup`). */
  destroy(): Promise<void>;
}
