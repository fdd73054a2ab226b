import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FRAME_HEADER_PATH, renderFrameHeader } from './frame-header.js';

const repoRoot = new URL('../../../../', import.meta.url);

test('the agent header is what frames.ts generates (run node scripts/gen-contract.mjs after changing either)', () => {
  const committed = readFileSync(new URL(FRAME_HEADER_PATH, repoRoot), 'utf8');
  assert.equal(committed, renderFrameHeader(), `${FRAME_HEADER_PATH} is out of date`);
});

test('every frame type in the header is one byte and no two operations share one', () => {
  const header = renderFrameHeader();
  const ops = [...header.matchAll(/#define OP_\w+ '(.)'/g)].map((m) => m[1]);
  assert.ok(ops.length >= 13);
  assert.equal(new Set(ops).size, ops.length);
});
