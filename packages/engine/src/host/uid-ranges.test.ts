import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openDatabase } from '../state/database.js';
import { FIRST_SANDBOX_UID, UidRanges } from './uid-ranges.js';

describe('host uid ranges', () => {
  const dir = mkdtempSync('/tmp/mitos-test-uidr-');
  const claims = join(dir, 'claims');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const open = (name: string) => {
    mkdirSync(join(dir, name), { recursive: true });
    return new UidRanges({ db: openDatabase(':memory:'), stateDir: join(dir, name), claimDir: claims });
  };

  test('one range per sandbox, recorded and stable; released ranges are reused', () => {
    const r = open('s1');
    const a = r.allocate('a');
    const b = r.allocate('b');
    assert.equal(a, FIRST_SANDBOX_UID);
    assert.equal(b, FIRST_SANDBOX_UID + 65_536);
    assert.equal(r.allocate('a'), a);
    r.rename('a', 'a2');
    assert.equal(r.baseOf('a2'), a);
    r.release('a2');
    assert.equal(existsSync(join(claims, '0')), false);
    assert.equal(r.allocate('c'), a);
  });

  test('two servers on one host never get the same range', () => {
    const x = open('x');
    const y = open('y');
    const bases = new Set([x.allocate('1'), y.allocate('1'), x.allocate('2'), y.allocate('2')]);
    assert.equal(bases.size, 4);
  });

  test("a claim whose server's state dir is gone is taken over; a live one is not", () => {
    const own = join(dir, 'claims-3');
    const z = new UidRanges({ db: openDatabase(':memory:'), stateDir: join(dir, 'z'), claimDir: own });
    writeFileSync(join(own, '0'), join(dir, 'vanished'));
    writeFileSync(join(own, '1'), dir);
    assert.equal(z.allocate('s'), FIRST_SANDBOX_UID);
    assert.equal(readFileSync(join(own, '0'), 'utf8'), join(dir, 'z'));
    assert.equal(z.allocate('t'), FIRST_SANDBOX_UID + 2 * 65_536);
  });
});
