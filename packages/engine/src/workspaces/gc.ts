/**
 * Garbage collection of workspace objects: an object is live while a revision's manifest names
 * it (or it is that manifest). Objects a commit has stored but not yet recorded are pinned.
 */
import type { BlobStore } from './blob-store.js';
import type { WorkspaceCatalog } from './catalog.js';
import { decodeManifest, fileDigests } from './manifest.js';

export class Pins {
  private readonly counts = new Map<string, number>();

  /** Pins `digests`; the returned function unpins them. */
  add(digests: string[]): () => void {
    for (const d of digests) this.counts.set(d, (this.counts.get(d) ?? 0) + 1);
    return () => {
      for (const d of digests) {
        const n = (this.counts.get(d) ?? 1) - 1;
        if (n <= 0) this.counts.delete(d);
        else this.counts.set(d, n);
      }
    };
  }

  has(digest: string): boolean {
    return this.counts.has(digest);
  }
}

export async function collectGarbage(store: BlobStore, catalog: WorkspaceCatalog, pins: Pins): Promise<number> {
  const live = new Set<string>();
  for (const manifestDigest of catalog.liveManifests()) {
    live.add(manifestDigest);
    for (const d of fileDigests(decodeManifest(await store.get(manifestDigest)))) live.add(d);
  }
  let removed = 0;
  for (const digest of await store.list()) {
    if (live.has(digest) || pins.has(digest)) continue;
    await store.delete(digest);
    removed++;
  }
  return removed;
}
