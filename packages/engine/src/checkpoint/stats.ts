/**
 * CRIU's own account of a dump or a restore (the `stats-dump` / `stats-restore` image it leaves
 * in the images directory), read for the carried fork's profile (carried-fork.ts publishes it
 * on a diagnostics channel; packages/bench/spike/criu-sandbox.mjs prints it).
 *
 * The format: two 32-bit magics, a 32-bit little-endian length and a protobuf
 * `stats_entry { dump_stats_entry dump = 1; restore_stats_entry restore = 2; }` whose inner
 * messages are varints only (times in microseconds).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const HEADER_BYTES = 8;

const DUMP_FIELDS: Record<number, string> = {
  1: 'freezingUs',
  2: 'frozenUs',
  3: 'memdumpUs',
  4: 'memwriteUs',
  5: 'pagesScanned',
  7: 'pagesWritten',
};
const RESTORE_FIELDS: Record<number, string> = { 3: 'forkingUs', 4: 'restoreUs', 5: 'pagesRestored' };

function varintAt(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let i = at; i < buf.length; i++) {
    const b = buf[i] as number;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i + 1];
    shift += 7;
  }
  throw new Error('truncated varint in CRIU stats image');
}

function varintFields(msg: Buffer, names: Record<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let at = 0; at < msg.length; ) {
    const [key, next] = varintAt(msg, at);
    if ((key & 7) !== 0) throw new Error('unexpected field in CRIU stats image');
    const [value, after] = varintAt(msg, next);
    const name = names[key >> 3];
    if (name) out[name] = value;
    at = after;
  }
  return out;
}

/** The named figures of one stats image's body (after the magics). */
export function decodeStats(image: Buffer): Record<string, number> {
  const body = image.subarray(HEADER_BYTES + 4, HEADER_BYTES + 4 + image.readUInt32LE(HEADER_BYTES));
  const [key, next] = varintAt(body, 0);
  const [len, start] = varintAt(body, next);
  const inner = body.subarray(start, start + len);
  return varintFields(inner, key >> 3 === 1 ? DUMP_FIELDS : RESTORE_FIELDS);
}

/** The stats CRIU left in dir for `kind`, or undefined when it left none. */
export function readStats(dir: string, kind: 'dump' | 'restore'): Record<string, number> | undefined {
  try {
    return decodeStats(readFileSync(join(dir, `stats-${kind}`)));
  } catch {
    return undefined;
  }
}
