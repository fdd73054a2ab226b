#!/usr/bin/env node
// Writes the files generated from the one source of the contract (run after `npm run build`):
//   packages/agent/src/frame-ops.h  from packages/engine/src/agent/frames.ts
//   docs/openapi.json               from the zod schemas in packages/protocol
// `--check` writes nothing and exits 1 when a committed file differs from what it would write
// (tests check the same, so CI fails when someone edits one side only).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const { FRAME_HEADER_PATH, renderFrameHeader } = await import(join(root, 'packages/engine/dist/agent/frame-header.js'));
const generated = [[FRAME_HEADER_PATH, renderFrameHeader()]];
try {
  const { OPENAPI_DOC_PATH, renderOpenApiDocument } = await import(join(root, 'packages/protocol/dist/openapi.js'));
  generated.push([OPENAPI_DOC_PATH, renderOpenApiDocument()]);
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
}

const check = process.argv.includes('--check');
let stale = 0;
for (const [path, text] of generated) {
  const file = join(root, path);
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing: written (or reported) below
  }
  if (current === text) continue;
  if (check) {
    process.stderr.write(`${path} is out of date: run \`npm run build && node scripts/gen-contract.mjs\`\n`);
    stale++;
  } else {
    writeFileSync(file, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exit(stale > 0 ? 1 : 0);
