/**
 * Host disk headroom under the state directory. The btrfs volume is a sparse image there: a
 * write into a sandbox becomes new blocks of the image, and if the host filesystem has none
 * left the loop device fails the write, btrfs aborts its transaction and the whole volume goes
 * read-only under every sandbox (measured here: `dd` in a sandbox "succeeds", then the commit
 * fails with EIO). So work that makes the image grow is refused while headroom is short.
 */
import { statfsSync } from 'node:fs';
import { MitosError } from '@mitos/protocol';

/** Below this much free space on the state directory's filesystem, growth is refused. */
export const DEFAULT_HEADROOM_BYTES = 512 * 1024 * 1024;

export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

export function assertHeadroom(dir: string, what: string, headroom = DEFAULT_HEADROOM_BYTES): void {
  const free = freeBytes(dir);
  if (free >= headroom) return;
  throw new MitosError(
    'disk_full',
    `the filesystem holding the state directory has ${Math.floor(free / 2 ** 20)} MiB free (needs ${Math.floor(headroom / 2 ** 20)} MiB of headroom to ${what})`,
    { free_bytes: free },
    { remediation: "free space on the server state directory's filesystem; work resumes as soon as it is there" },
  );
}
