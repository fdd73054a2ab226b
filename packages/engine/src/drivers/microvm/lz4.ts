/**
 * Decompression of the "legacy" LZ4 frame the x86 kernel build uses for a bzImage payload
 * (Debian's cloud kernel is CONFIG_KERNEL_LZ4). Written here so extracting the PVH vmlinux
 * needs no lz4 tool on the host. Legacy frame: magic 0x184C2102, then blocks of
 * (u32 LE compressed size, LZ4 block) that each inflate to at most 8 MiB.
 */

export const LZ4_LEGACY_MAGIC = 0x184c2102;
const BLOCK_OUT_MAX = 8 * 1024 * 1024;
// LZ4_compressBound(8 MiB): a larger "block size" is not a block (the bzImage appends the
// uncompressed length after the payload, which is how the end is found).
const BLOCK_IN_MAX = BLOCK_OUT_MAX + Math.floor(BLOCK_OUT_MAX / 255) + 16;

/** Inflate one LZ4 block into `out` at `op`; returns the new output offset. */
export function decodeBlock(src: Buffer, start: number, end: number, out: Buffer, op: number): number {
  let ip = start;
  while (ip < end) {
    const token = src[ip++] as number;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        b = src[ip++] as number;
        lit += b;
      } while (b === 255 && ip < end);
    }
    if (ip + lit > end || op + lit > out.length) throw new Error('lz4: literal run past the end');
    src.copy(out, op, ip, ip + lit);
    ip += lit;
    op += lit;
    if (ip >= end) break; // the last sequence carries literals only
    const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Error('lz4: bad match offset');
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        b = src[ip++] as number;
        len += b;
      } while (b === 255 && ip < end);
    }
    len += 4;
    if (op + len > out.length) throw new Error('lz4: match past the end');
    // Matches may overlap their own output (run-length style): copy byte by byte then.
    let from = op - offset;
    if (offset >= len) {
      out.copy(out, op, from, from + len);
      op += len;
    } else {
      for (let i = 0; i < len; i++) out[op++] = out[from++] as number;
    }
  }
  return op;
}

/** Inflate a legacy frame starting at `offset` of `src`, stopping at the first non-block. */
export function decodeLegacyFrame(src: Buffer, offset = 0): Buffer {
  if (src.readUInt32LE(offset) !== LZ4_LEGACY_MAGIC) throw new Error('lz4: no legacy frame magic');
  let ip = offset + 4;
  const chunks: Buffer[] = [];
  while (ip + 4 <= src.length) {
    const size = src.readUInt32LE(ip);
    if (size === LZ4_LEGACY_MAGIC) {
      ip += 4; // a concatenated frame continues the stream
      continue;
    }
    if (size === 0 || size > BLOCK_IN_MAX || ip + 4 + size > src.length) break;
    const out = Buffer.allocUnsafe(BLOCK_OUT_MAX);
    const n = decodeBlock(src, ip + 4, ip + 4 + size, out, 0);
    chunks.push(out.subarray(0, n));
    ip += 4 + size;
  }
  return Buffer.concat(chunks);
}
