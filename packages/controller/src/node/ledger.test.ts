import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SandboxLedger } from './ledger.js';

const TOKEN = 'ab'.repeat(32);
const owner = { kind: 'claim', namespace: 'ns', pool: 'p', claim: 'c' } as const;

describe('sandbox ledger', () => {
  it('verifies only the exact token of the exact sandbox', () => {
    const ledger = SandboxLedger.open(undefined);
    ledger.put({ id: 's1', owner, image: 'python', createdAt: '' });
    ledger.put({ id: 's2', owner, image: 'python', createdAt: '' });
    assert.equal(ledger.verify('s1', TOKEN), false, 'no token registered yet');
    ledger.assign('s1', owner, TOKEN);
    assert.equal(ledger.verify('s1', TOKEN), true);
    assert.equal(ledger.verify('s2', TOKEN), false);
    assert.equal(ledger.verify('s1', TOKEN.slice(1)), false);
    assert.equal(ledger.verify('s1', ''), false);
    assert.equal(ledger.verify('nope', TOKEN), false);
    ledger.remove('s1');
    assert.equal(ledger.verify('s1', TOKEN), false);
  });

  it('persists digests, never tokens, in a file only root can read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
    try {
      const path = join(dir, 'ledger.json');
      const ledger = SandboxLedger.open(path);
      ledger.put({ id: 's1', owner, image: 'python', createdAt: '' });
      ledger.assign('s1', owner, TOKEN);
      assert.ok(!readFileSync(path, 'utf8').includes(TOKEN));
      assert.equal(statSync(path).mode & 0o077, 0);
      assert.equal(SandboxLedger.open(path).verify('s1', TOKEN), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
