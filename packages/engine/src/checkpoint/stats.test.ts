import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeStats } from './stats.js';

/** An image as CRIU writes it: two magics, the entry's length, the entry. */
function image(entry: number[]): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0x54564319, 0);
  head.writeUInt32LE(0x57093306, 4);
  head.writeUInt32LE(entry.length, 8);
  return Buffer.concat([head, Buffer.from(entry)]);
}

test('decodeStats names the figures of a dump and of a restore', () => {
  // dump { freezing_time 300, frozen_time 5, pages_written 2 } (300 = 0xac 0x02 as a varint)
  const dump = [0x08, 0xac, 0x02, 0x10, 0x05, 0x38, 0x02];
  assert.deepEqual(decodeStats(image([0x0a, dump.length, ...dump])), { freezingUs: 300, frozenUs: 5, pagesWritten: 2 });
  // restore { pages_compared 0, pages_skipped_cow 0, forking_time 7, restore_time 9, pages_restored 4 }
  const restore = [0x08, 0x00, 0x10, 0x00, 0x18, 0x07, 0x20, 0x09, 0x28, 0x04];
  assert.deepEqual(decodeStats(image([0x12, restore.length, ...restore])), {
    forkingUs: 7,
    restoreUs: 9,
    pagesRestored: 4,
  });
});
