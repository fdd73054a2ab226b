/**
 * A minimal writer for the "newc" cpio format the Linux kernel unpacks as an initramfs. Only
 * what an initramfs needs: directories, regular files and character device nodes, all owned by
 * root, with a fixed mtime so equal inputs give byte-identical archives (the cache key relies
 * on content, and a reproducible archive keeps snapshots comparable).
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Buffer }
  | { kind: 'char'; path: string; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function record(ino: number, mode: number, data: Buffer, name: string, rdev: [number, number] = [0, 0]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  const header = Buffer.from(
    [
      '070701',
      hex8(ino),
      hex8(mode),
      hex8(0), // uid
      hex8(0), // gid
      hex8(mode & S_IFDIR ? 2 : 1),
      hex8(0), // mtime
      hex8(data.length),
      hex8(0), // devmajor
      hex8(0), // devminor
      hex8(rdev[0]),
      hex8(rdev[1]),
      hex8(nameBytes.length),
      hex8(0), // check
    ].join(''),
  );
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/** The archive for `entries`; parents must precede children (the kernel creates in order). */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    if (!name) continue;
    switch (e.kind) {
      case 'dir':
        parts.push(...record(ino++, S_IFDIR | (e.mode & 0o7777), Buffer.alloc(0), name));
        break;
      case 'file':
        parts.push(...record(ino++, S_IFREG | (e.mode & 0o7777), e.data, name));
        break;
      case 'char':
        parts.push(...record(ino++, S_IFCHR | (e.mode & 0o7777), Buffer.alloc(0), name, [e.major, e.minor]));
        break;
    }
  }
  parts.push(...record(0, 0, Buffer.alloc(0), 'TRAILER!!!'));
  const out = Buffer.concat(parts);
  // The kernel reads the archive in 512-byte blocks; pad like cpio(1) does.
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}
