#!/usr/bin/env node
// Regenerates the sandbox.v1 TypeScript (src/connect/gen) from proto/sandbox/v1/sandbox.proto
// with buf and protoc-gen-es from node_modules. `--out DIR` writes elsewhere (the freshness
// test generates into a temporary directory and compares).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(pkg, '../..');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(pkg, 'src/connect/gen');
const bin = join(root, 'node_modules/.bin');

const template = {
  version: 'v2',
  plugins: [{ local: join(bin, 'protoc-gen-es'), out, opt: ['target=ts', 'import_extension=js'] }],
};
rmSync(out, { recursive: true, force: true });
execFileSync(join(bin, 'buf'), ['generate', 'proto', '--path', 'proto/sandbox', '--template', JSON.stringify(template)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, BUF_CACHE_DIR: join(pkg, 'node_modules/.cache/buf') },
});
