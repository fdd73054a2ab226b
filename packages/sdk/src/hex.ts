/** Bytes travel as lowercase hex in JSON strings when `binary: true` (wire-v1.md 4.10, 4.11). */
import { invalidResponse } from './http.js';

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Strict decode: Buffer.from(s, 'hex') silently stops at the first bad character. */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw invalidResponse(`expected hex content for a binary read, got ${text.length} characters that are not hex`);
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}
