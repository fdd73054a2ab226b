/**
 * The PVH entry point QEMU boots directly (no firmware, no real-mode setup) is in the kernel's
 * ELF image, which a distribution ships only compressed inside its bzImage. Find the payload
 * by its compression magic and inflate it until a whole ELF comes out.
 */
import { spawnSync } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';
import { which } from '../../host/which.js';
import { decodeLegacyFrame } from './lz4.js';

interface Codec {
  name: string;
  magic: Buffer;
  inflate(tail: Buffer): Buffer;
}

function viaTool(tool: string, args: string[]) {
  return (tail: Buffer): Buffer => {
    const path = which(tool);
    if (!path) throw new Error(`${tool} is not installed`);
    // These tools complain about the bytes after the payload but still write all of it.
    const r = spawnSync(path, args, { input: tail, maxBuffer: 512 * 1024 * 1024 });
    return r.stdout ?? Buffer.alloc(0);
  };
}

/** One gzip member, ignoring what follows it (gunzip would take it for a broken next member). */
function inflateGzipMember(b: Buffer): Buffer {
  const flags = b[3] as number;
  let at = 10;
  if (flags & 4) at += 2 + b.readUInt16LE(at); // FEXTRA
  if (flags & 8) at = b.indexOf(0, at) + 1; // FNAME
  if (flags & 16) at = b.indexOf(0, at) + 1; // FCOMMENT
  if (flags & 2) at += 2; // FHCRC
  return inflateRawSync(b.subarray(at));
}

const CODECS: Codec[] = [
  { name: 'lz4', magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]), inflate: (t) => decodeLegacyFrame(t) },
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]), inflate: inflateGzipMember },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), inflate: viaTool('zstd', ['-dcq']) },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), inflate: viaTool('xz', ['-dcq']) },
];

/** True when `b` holds a complete 64-bit ELF (its section header table lies inside it). */
export function isCompleteElf64(b: Buffer): boolean {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  return shoff > 0 && shoff + shentsize * shnum <= b.length;
}

/** The uncompressed vmlinux inside a bzImage, or an error naming what was tried. */
export function extractVmlinux(bzImage: Buffer): { elf: Buffer; codec: string } {
  const tried: string[] = [];
  for (const codec of CODECS) {
    for (let at = bzImage.indexOf(codec.magic); at >= 0; at = bzImage.indexOf(codec.magic, at + 1)) {
      try {
        const elf = codec.inflate(bzImage.subarray(at));
        if (isCompleteElf64(elf)) return { elf, codec: codec.name };
        tried.push(`${codec.name}@${at}: not an ELF`);
      } catch (err) {
        tried.push(`${codec.name}@${at}: ${(err as Error).message}`);
      }
    }
  }
  throw new Error(
    `no compressed vmlinux found in the kernel image (${tried.slice(0, 6).join('; ') || 'no known magic'})`,
  );
}
