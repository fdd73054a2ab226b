/**
 * The committed envd code (src/e2b/gen) is what protoc-gen-es makes of proto/e2b today: a
 * proto edit without `npm run -w @mitos/server gen:e2b` fails here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const committed = join(root, 'packages/server/src/e2b/gen');

function files(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

test('generated envd code matches proto/e2b', () => {
  const out = mkdtempSync(join(tmpdir(), 'e2b-gen-'));
  try {
    const template = JSON.stringify({
      version: 'v2',
      plugins: [{ local: 'protoc-gen-es', out, opt: ['target=ts', 'import_extension=js'] }],
    });
    execFileSync(join(root, 'node_modules/.bin/buf'), ['generate', '--template', template], {
      cwd: join(root, 'proto/e2b'),
      env: { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
      stdio: 'pipe',
    });
    const fresh = files(out).sort();
    assert.deepEqual(fresh, files(committed).sort());
    for (const f of fresh) {
      assert.equal(readFileSync(join(out, f), 'utf8'), readFileSync(join(committed, f), 'utf8'), `${f} is stale`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
