import assert from 'node:assert/strict';
import { test } from 'node:test';
import { remapUsernsImage } from './userns-image.js';

const HEADER = Buffer.from([0x19, 0x43, 0x56, 0x54, 0x06, 0x49, 0x47, 0x55]);

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function extent(first: number, lower: number, count: number): number[] {
  return [0x08, ...varint(first), 0x10, ...varint(lower), 0x18, ...varint(count)];
}

/** An image as CRIU writes it: header, then one length-prefixed userns_entry. */
function image(uid: number[][], gid: number[][]): Buffer {
  const body: number[] = [];
  for (const [field, list] of [
    [0x0a, uid],
    [0x12, gid],
  ] as const) {
    for (const e of list) {
      const enc = extent(e[0] as number, e[1] as number, e[2] as number);
      body.push(field, ...varint(enc.length), ...enc);
    }
  }
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([HEADER, size, Buffer.from(body)]);
}

test('the user namespace image maps onto the child range, everything else unchanged', () => {
  const parent = image([[0, 1_100_000, 65_536]], [[0, 1_100_000, 65_536]]);
  const child = remapUsernsImage(parent, 1_100_000, 2_000_000_000);
  assert.deepEqual(child, image([[0, 2_000_000_000, 65_536]], [[0, 2_000_000_000, 65_536]]));
  // Back again gives the very bytes the dump wrote.
  assert.deepEqual(remapUsernsImage(child, 2_000_000_000, 1_100_000), parent);
});

test('every extent moves with the range, not only the first', () => {
  const parent = image(
    [
      [0, 300_000, 1000],
      [1000, 301_000, 64_536],
    ],
    [[0, 300_000, 65_536]],
  );
  const child = remapUsernsImage(parent, 300_000, 500_000);
  assert.deepEqual(
    child,
    image(
      [
        [0, 500_000, 1000],
        [1000, 501_000, 64_536],
      ],
      [[0, 500_000, 65_536]],
    ),
  );
});

test('a map outside the parent range or a damaged image is refused, not copied', () => {
  assert.throws(() => remapUsernsImage(image([[0, 0, 1]], []), 100_000, 200_000), /outside the parent's range/);
  const truncated = image([[0, 100_000, 65_536]], []).subarray(0, 14);
  assert.throws(() => remapUsernsImage(truncated, 100_000, 200_000), /truncated/);
  assert.throws(() => remapUsernsImage(Buffer.from([1, 2, 3]), 1, 2), /too short/);
});
