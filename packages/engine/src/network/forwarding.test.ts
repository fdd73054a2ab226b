import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Forwarding, withForwardingOn, withForwardingRestored } from './forwarding.js';

const dir = mkdtempSync(join(tmpdir(), 'mitos-test-fwd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function host(initial: string[]): Forwarding {
  const files = initial.map((v, i) => {
    const f = join(dir, `sysctl-${Math.random().toString(36).slice(2)}-${i}`);
    writeFileSync(f, `${v}\n`);
    return f;
  });
  return {
    files,
    marker: join(dir, `marker-${files.length}-${Math.random()}`),
    lock: join(dir, 'lock'),
    log: () => {},
  };
}
const values = (f: Forwarding) => f.files.map((file) => readFileSync(file, 'utf8').trim());

test('forwarding we turned on is turned off when no table is left, and only then', async () => {
  const f = host(['0', '1']);
  await withForwardingOn(f, async () => {});
  assert.deepEqual(values(f), ['1', '1']);
  // Another server's table is still there: forwarding stays on.
  await withForwardingRestored(
    f,
    async () => {},
    async () => true,
  );
  assert.deepEqual(values(f), ['1', '1']);
  await withForwardingRestored(
    f,
    async () => {},
    async () => false,
  );
  // Only what we switched goes back; the one that was already on stays on.
  assert.deepEqual(values(f), ['0', '1']);
  assert.equal(existsSync(f.marker), false);
  assert.equal(existsSync(f.lock), false);
});

test('forwarding that was on before us is never turned off', async () => {
  const f = host(['1', '1']);
  await withForwardingOn(f, async () => {});
  await withForwardingRestored(
    f,
    async () => {},
    async () => false,
  );
  assert.deepEqual(values(f), ['1', '1']);
});

test('a lock left by a dead process is taken over; a marker naming other files writes nothing', async () => {
  const f = host(['0']);
  writeFileSync(f.marker, JSON.stringify(['/etc/passwd']));
  await withForwardingRestored(
    f,
    async () => {},
    async () => false,
  );
  assert.deepEqual(values(f), ['0']);
  rmSync(f.marker);
  // pid 2^22+1 is above pid_max on Linux: never alive.
  mkdirSync(f.lock);
  writeFileSync(join(f.lock, 'pid'), String(4_194_305));
  await withForwardingOn(f, async () => {});
  assert.deepEqual(values(f), ['1']);
});
