import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { MitosError } from '@mitos/protocol';
import { defaultAgentPath } from '../drivers/linux/engine.js';
import { type SpawnExit, Spawner } from './spawner.js';

const PATH = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

/** Polls `check` until true, failing after `ms` (state is observed, never slept on). */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

function deferred<T>() {
  let resolve: (v: T) => void = () => {};
  let reject: (e: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Spawner (mitos-agent spawner)', () => {
  const spawner = new Spawner(defaultAgentPath());
  spawner.start();
  after(() => spawner.close());

  test('runs to completion with stdin, output and exit status as execFile reports them', async () => {
    const input = 'x'.repeat(300_000); // more than a pipe holds: written as the child reads
    const out = await spawner.run('/bin/sh', ['-c', 'wc -c; printf e >&2'], { env: PATH, stdin: input });
    assert.equal(out.stdout.trim(), '300000');
    assert.equal(out.stderr, 'e');
    await assert.rejects(spawner.run('/bin/sh', ['-c', 'printf out; printf err >&2; exit 3'], { env: PATH }), {
      code: 3,
      signal: null,
      stdout: 'out',
      stderr: 'err',
    });
  });

  test('the child gets exactly the environment it is given', async () => {
    const out = await spawner.run('/usr/bin/env', [], { env: { ONLY: 'this' } });
    assert.equal(out.stdout, 'ONLY=this\n');
  });

  test('a child holds nothing but its own stdio (no other child pipe, not the helper channel)', async () => {
    // Another child in flight, whose pipes must not leak into the next one.
    const other = spawner.run('/bin/sleep', ['0.5'], { env: PATH });
    const out = await spawner.run('/bin/ls', ['/proc/self/fd'], { env: PATH });
    // 3 is ls's own handle on the directory it lists.
    assert.deepEqual(out.stdout.trim().split('\n'), ['0', '1', '2', '3']);
    await other;
  });

  test('a program that cannot be started fails with its errno, as child_process does', async () => {
    await assert.rejects(spawner.run('/nonexistent/tool', [], { env: PATH }), { code: 'ENOENT' });
  });

  test('detached gives a session of its own; kill signals it; release lets it run on', async () => {
    const exit = deferred<SpawnExit>();
    const line = deferred<string>();
    const child = spawner.spawn(
      '/bin/sh',
      ['-c', 'read -r a b c d e f rest < /proc/self/stat; echo "$a $f"; exec sleep 100'],
      { env: PATH, detached: true },
      { onStdout: (t) => line.resolve(t), onExit: exit.resolve, onError: exit.reject },
    );
    const pid = await child.pid;
    const [self, session] = (await line.promise).trim().split(' ');
    assert.equal(self, String(pid));
    assert.equal(session, String(pid));
    child.kill('SIGKILL');
    assert.deepEqual(await exit.promise, { code: null, signal: 'SIGKILL' });

    const released = spawner.spawn(
      '/bin/sleep',
      ['100'],
      { env: PATH, detached: true },
      {
        onExit: () => assert.fail('a released child is no longer reported'),
        onError: () => assert.fail('no error expected'),
      },
    );
    const sleeper = await released.pid;
    released.release();
    released.kill('SIGKILL'); // ignored once released: the caller let go of it
    assert.ok(alive(sleeper));
    process.kill(sleeper, 'SIGKILL');
    await until('the released sleeper to end', () => !alive(sleeper));
  });

  test('the helper ends with the process that started it, and what it started runs on', async () => {
    const script = `
      import { Spawner } from ${JSON.stringify(new URL('../../dist/host/spawner.js', import.meta.url).href)};
      const s = new Spawner(${JSON.stringify(defaultAgentPath())});
      const p = s.spawn('/bin/sleep', ['100'], { env: {}, detached: true }, { onExit() {}, onError() {} });
      console.log(s.helperPid, await p.pid);
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    owner.stdout.on('data', (d) => {
      text += d;
    });
    await until('the owner to report its helper', () => text.includes('\n'));
    const [helperPid, sleeper] = text.trim().split(' ').map(Number) as [number, number];
    assert.ok(alive(helperPid));
    owner.kill('SIGKILL');
    await until('the helper to end with its owner', () => !alive(helperPid));
    assert.ok(alive(sleeper), 'the process it started outlives it');
    process.kill(sleeper, 'SIGKILL');
    await until('the sleeper to end', () => !alive(sleeper));
  });

  test('a helper that dies fails what was in flight, and the next spawn starts a new one', async () => {
    const own = new Spawner(defaultAgentPath());
    try {
      own.start();
      const first = own.helperPid as number;
      const failed = deferred<MitosError>();
      const pending = own.spawn(
        '/bin/sleep',
        ['100'],
        { env: PATH },
        { onExit() {}, onError: (e) => failed.resolve(e as MitosError) },
      );
      const sleeper = await pending.pid;
      process.kill(first, 'SIGKILL');
      assert.match((await failed.promise).detail, /process spawner ended/);
      process.kill(sleeper, 'SIGKILL'); // orphaned by the helper's death, as a server's would be
      await until('the orphaned sleeper to end', () => !alive(sleeper));
      assert.equal((await own.run('/bin/echo', ['again'], { env: PATH })).stdout, 'again\n');
      assert.notEqual(own.helperPid, first);
    } finally {
      const last = own.helperPid;
      await own.close();
      if (last) assert.ok(!alive(last), 'close() ends the helper');
    }
    await assert.rejects(own.run('/bin/true', [], { env: PATH }), { detail: /the engine is closed/ });
  });

  test('close() lets what is in flight finish, then ends the helper', async () => {
    const own = new Spawner(defaultAgentPath());
    const running = own.run('/bin/sh', ['-c', 'sleep 0.2; echo done'], { env: PATH });
    const helper = own.helperPid as number;
    await own.close();
    assert.equal((await running).stdout, 'done\n');
    assert.ok(!alive(helper));
  });
});
