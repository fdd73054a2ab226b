import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../..', import.meta.url));
const GENERATED = 'sandbox/v1/sandbox_pb.ts';

describe('generated sandbox.v1 code', () => {
  it('is what the proto generates today (run `npm run gen:connect -w @mitos/server` after editing it)', () => {
    const out = mkdtempSync(join(tmpdir(), 'mitos-test-gen-'));
    try {
      execFileSync(process.execPath, [join(pkg, 'scripts/gen-connect.mjs'), '--out', out], { stdio: 'pipe' });
      const fresh = readFileSync(join(out, GENERATED), 'utf8');
      const committed = readFileSync(join(pkg, 'src/connect/gen', GENERATED), 'utf8');
      assert.equal(committed, fresh);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
