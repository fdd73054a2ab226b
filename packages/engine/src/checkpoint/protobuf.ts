/**
 * Just enough of CRIU's image format to rewrite an entry: two 32-bit magics, then entries of a
 * 32-bit little-endian length and a protobuf message. Used where a fork changes a small part
 * of the parent's checkpoint for its children (userns-image.ts, closed-sockets.ts).
 */

export const HEADER_BYTES = 8;

export function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    if (i >= buf.length) throw new Error('truncated varint in a checkpoint image');
    const b = buf[i++] as number;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i];
    shift += 7;
  }
}

export function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** One field of a message: its number, wire type, value (varints) or bytes (length-delimited), and its encoding. */
export interface Field {
  field: number;
  wire: number;
  value: number;
  bytes: Buffer;
  raw: Buffer;
}

const FIXED_BYTES: Record<number, number> = { 1: 8, 5: 4 };

export function fields(message: Buffer): Field[] {
  const out: Field[] = [];
  for (let at = 0; at < message.length; ) {
    const [key, next] = readVarint(message, at);
    const wire = key & 7;
    let value = 0;
    let bytes = message.subarray(next, next);
    let end: number;
    if (wire === 0) [value, end] = readVarint(message, next);
    else if (wire === 2) {
      const [len, start] = readVarint(message, next);
      end = start + len;
      bytes = message.subarray(start, end);
    } else if (FIXED_BYTES[wire] !== undefined) {
      end = next + (FIXED_BYTES[wire] as number);
      bytes = message.subarray(next, end);
    } else throw new Error(`unexpected wire type ${wire} in a checkpoint image`);
    if (end > message.length) throw new Error('truncated field in a checkpoint image');
    out.push({ field: key >> 3, wire, value, bytes, raw: message.subarray(at, end) });
    at = end;
  }
  return out;
}

export function varintField(field: number, value: number): Buffer {
  return Buffer.from([...varint(field << 3), ...varint(value)]);
}

export function bytesField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
}

/** A copy of an image with each entry passed through `rewrite`. */
export function mapEntries(image: Buffer, rewrite: (entry: Buffer) => Buffer): Buffer {
  if (image.length < HEADER_BYTES) throw new Error('checkpoint image too short');
  const parts: Buffer[] = [image.subarray(0, HEADER_BYTES)];
  for (let at = HEADER_BYTES; at < image.length; ) {
    if (at + 4 > image.length) throw new Error('truncated checkpoint image');
    const len = image.readUInt32LE(at);
    if (at + 4 + len > image.length) throw new Error('truncated checkpoint image');
    const entry = rewrite(image.subarray(at + 4, at + 4 + len));
    const size = Buffer.alloc(4);
    size.writeUInt32LE(entry.length);
    parts.push(size, entry);
    at += 4 + len;
  }
  return Buffer.concat(parts);
}

/** The values of a packed repeated varint field. */
export function packedVarints(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at < bytes.length; ) {
    const [value, next] = readVarint(bytes, at);
    out.push(value);
    at = next;
  }
  return out;
}
