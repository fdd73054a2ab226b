import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { acquireLock } from './build-lock.js';

function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return Number(child.stdout.toString().trim());
}

describe('build lock', () => {
  const dir = mkdtempSync('/tmp/mitos-test-lock-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('holds our pid while held and disappears on release', async () => {
    const path = join(dir, 'a.lock');
    const lock = await acquireLock(path);
    assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
    lock.release();
    lock.release();
    assert.equal(existsSync(path), false);
  });

  test('waits while a live process holds it, then takes it', async () => {
    const path = join(dir, 'b.lock');
    const holder = spawn('sleep', ['30']);
    writeFileSync(path, `${holder.pid}\n`);
    const waitedFor: Array<number | undefined> = [];
    let acquired = false;
    const pending = acquireLock(path, { pollMs: 10, onWait: (pid) => waitedFor.push(pid) }).then((l) => {
      acquired = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(acquired, false);
    assert.deepEqual(waitedFor, [holder.pid]);
    holder.kill('SIGKILL');
    const lock = await pending;
    assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
    lock.release();
  });

  test('breaks a lock left by a dead process, and one naming our own pid that we do not hold', async () => {
    for (const pid of [deadPid(), process.pid]) {
      const path = join(dir, `stale-${pid}.lock`);
      writeFileSync(path, `${pid}\n`);
      const lock = await acquireLock(path, { pollMs: 10, timeoutMs: 2_000 });
      assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
      lock.release();
    }
  });

  test('a release after the lock was broken by someone else leaves their lock alone', async () => {
    const path = join(dir, 'c.lock');
    const lock = await acquireLock(path);
    rmSync(path);
    writeFileSync(path, '12345\n');
    lock.release();
    assert.equal(readFileSync(path, 'utf8'), '12345\n');
  });

  test('gives up after the timeout', async () => {
    const path = join(dir, 'd.lock');
    const holder = spawn('sleep', ['30']);
    writeFileSync(path, `${holder.pid}\n`);
    await assert.rejects(acquireLock(path, { pollMs: 10, timeoutMs: 100 }), /timed out/);
    holder.kill('SIGKILL');
  });
});
