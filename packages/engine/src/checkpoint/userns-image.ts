/**
 * Each child of a fork gets its own host uid range, but a checkpoint records the parent's: the
 * user namespace image (userns-N.img) holds the id maps CRIU writes when it recreates the
 * namespace. This rewrites that one small image for a child, so the restored namespace maps
 * the same in-sandbox ids onto the child's range (the child's root is idmapped into that same
 * range by the launcher). Every other image is shared by all children unchanged.
 *
 * The format: two 32-bit magics, then entries of a 32-bit little-endian length and a protobuf
 * `userns_entry { repeated uid_gid_extent uid_map = 1; repeated uid_gid_extent gid_map = 2; }`,
 * `uid_gid_extent { uint32 first = 1; uint32 lower_first = 2; uint32 count = 3; }`.
 */

import { mapEntries, readVarint, varint } from './protobuf.js';

interface Extent {
  first: number;
  lowerFirst: number;
  count: number;
}

function decodeExtent(buf: Buffer): Extent {
  const e: Extent = { first: 0, lowerFirst: 0, count: 0 };
  for (let at = 0; at < buf.length; ) {
    const [key, next] = readVarint(buf, at);
    const [value, after] = readVarint(buf, next);
    if ((key & 7) !== 0) throw new Error('unexpected field in user namespace image');
    if (key >> 3 === 1) e.first = value;
    else if (key >> 3 === 2) e.lowerFirst = value;
    else if (key >> 3 === 3) e.count = value;
    at = after;
  }
  return e;
}

function encodeExtent(e: Extent): number[] {
  return [0x08, ...varint(e.first), 0x10, ...varint(e.lowerFirst), 0x18, ...varint(e.count)];
}

/** The entry with every extent that lies in [from, from + count) moved to start at `to`. */
function remapEntry(entry: Buffer, from: number, to: number): Buffer {
  const out: number[] = [];
  for (let at = 0; at < entry.length; ) {
    const [key, next] = readVarint(entry, at);
    const field = key >> 3;
    if ((key & 7) !== 2 || (field !== 1 && field !== 2)) throw new Error('unexpected field in user namespace image');
    const [len, start] = readVarint(entry, next);
    const extent = decodeExtent(entry.subarray(start, start + len));
    if (extent.lowerFirst < from) {
      throw new Error(`user namespace image maps ids outside the parent's range (${extent.lowerFirst})`);
    }
    const moved = encodeExtent({ ...extent, lowerFirst: extent.lowerFirst - from + to });
    out.push(key, ...varint(moved.length), ...moved);
    at = start + len;
  }
  return Buffer.from(out);
}

/** A copy of a userns image whose maps point at host ids from `to` instead of `from`. */
export function remapUsernsImage(image: Buffer, from: number, to: number): Buffer {
  return mapEntries(image, (entry) => remapEntry(entry, from, to));
}
