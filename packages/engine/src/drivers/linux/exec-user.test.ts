/**
 * Commands run as a named user of the sandbox (`user` on exec and startProcess): the agent
 * resolves the name in the sandbox's own /etc/passwd and /etc/group and switches groups, gid and
 * uid before `sh` starts, with the environment a login would have.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { testEngineEnv, withPythonSandboxes } from '@mitos/testkit';
import type { LinuxEngine } from './engine.js';

/** A user of the sandbox's files only (not the host's): a primary group and two more. */
export const ADD_USERS = [
  "echo 'ada:x:4101:4101:Ada:/home/ada:/bin/bash' >> /etc/passwd",
  "echo 'ada:x:4101:' >> /etc/group",
  "echo 'lab:x:4200:bob,ada' >> /etc/group",
  "echo 'ops:x:4300:ada' >> /etc/group",
  "echo 'other:x:4400:bob' >> /etc/group",
  'mkdir -p /home/ada && chown 4101:4101 /home/ada',
].join(' && ');

describe('linux driver: exec as a user of the sandbox', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: LinuxEngine;
  const id = `user-${process.pid}`;
  const run = async (command: string, options: { user?: string; env?: Record<string, string>; cwd?: string } = {}) => {
    const r = await engine.exec(id, { command, timeoutMs: 30_000, ...options });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  withPythonSandboxes(env, [{ id }], (e) => {
    engine = e;
  });

  test('the command has the user, its groups and a login environment; the caller env still wins', async () => {
    const added = await run(ADD_USERS);
    assert.equal(added.code, 0, added.err);
    const r = await run('id -u; id -g; id -G; echo "$HOME $USER $LOGNAME $SHELL"; pwd; echo $PATH', { user: 'ada' });
    assert.equal(r.code, 0, r.err);
    const [uid, gid, groups, login, cwd, path] = r.out.trim().split('\n');
    assert.equal(uid, '4101');
    assert.equal(gid, '4101');
    assert.deepEqual(groups?.split(' ').sort(), ['4101', '4200', '4300']);
    assert.equal(login, '/home/ada ada ada /bin/bash');
    assert.equal(cwd, '/workspace');
    assert.match(path ?? '', /\/usr\/bin/);
    const own = await run('echo "$HOME"; pwd', { user: 'ada', env: { HOME: '/tmp' }, cwd: '/home/ada' });
    assert.equal(own.out, '/tmp\n/home/ada\n');
    // Without `user`, root as before.
    assert.equal((await run('id -u; echo $HOME')).out, '0\n/root\n');
    assert.equal((await run('id -u', { user: 'root' })).out, '0\n');
  });

  test('an unknown user is refused with invalid_request, and nothing runs', async () => {
    await assert.rejects(
      run('touch /tmp/ran-as-nobody-known', { user: 'no-such-user' }),
      (err: unknown) =>
        err instanceof MitosError &&
        err.code === 'invalid_request' &&
        err.context.user === 'no-such-user' &&
        /no user "no-such-user"/.test(err.detail ?? ''),
    );
    for (const user of ['', 'root:x:0', 'a b', '../root', 'x'.repeat(64)]) {
      await assert.rejects(
        run('touch /tmp/ran-as-nobody-known', { user }),
        (err: unknown) => err instanceof MitosError && err.code === 'invalid_request',
        JSON.stringify(user),
      );
    }
    assert.equal((await run('test -e /tmp/ran-as-nobody-known')).code, 1);
  });

  test('a working directory the user may not enter fails the exec, as for root a missing one', async () => {
    await run('mkdir -p /root/private && chmod 700 /root');
    await assert.rejects(run('true', { user: 'ada', cwd: '/root/private' }), (err: unknown) => {
      return err instanceof MitosError && err.code === 'exec_failed' && /working directory/.test(err.detail ?? '');
    });
  });

  test('a background process and a terminal run as the user too', async () => {
    const bg = await engine.startProcess(id, { command: 'id -un; id -Gn', timeoutMs: 0, user: 'ada' });
    const done = await bg.wait();
    assert.equal(done.exitCode, 0, done.stderr.toString());
    assert.equal(done.stdout.toString(), 'ada\nada lab ops\n');
    const tty = await engine.startProcess(id, {
      command: 'stat -c %u "$(tty)"; id -u',
      timeoutMs: 30_000,
      user: 'ada',
      pty: { cols: 80, rows: 24 },
    });
    const out = await tty.wait();
    assert.equal(out.exitCode, 0, out.stdout.toString());
    assert.equal(out.stdout.toString().replace(/\r/g, ''), '4101\n4101\n');
  });
});
