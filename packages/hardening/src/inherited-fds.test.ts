/**
 * Descriptors the server inherited from whatever started it (a shell's pipe, a service
 * manager's socket) must not reach a sandbox: Node passes every descriptor without
 * close-on-exec on to its children, so the sandbox launcher is where they stop. The server
 * here is started with one such descriptor planted at fd 3; afterwards no process but the
 * server holds it (not the sandbox's init, its supervisor or a command), and a command inside
 * sees only its own stdio.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { testEngineEnv } from '@mitos/testkit';
import { type Api, call } from './cluster.js';
import { Recorder } from './figures.js';
import { freePort, type ServeProcess, spawnServe, stopServeAndCheck, waitHealthy } from './live.js';
import { asLocalUser } from './local-user.js';

const rec = new Recorder('inherited-fds', 'Descriptors inherited by the server', 1);

/** Every (pid, fd) on the host whose descriptor is `target` (e.g. `socket:[123]`). */
function holdersOf(target: string): string[] {
  const holders: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) holders.push(`${pid}:${fd}`);
      } catch {
        // closed meanwhile
      }
    }
  }
  return holders;
}

/** The server's descriptors that a child would inherit (no close-on-exec), as link targets. */
function inheritable(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    if (Number(fd) < 3) continue;
    try {
      const flags = Number.parseInt(
        /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0',
        8,
      );
      if ((flags & 0o2000000) === 0) out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('descriptors inherited by the server', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let proc: ServeProcess;
  let api: Api;
  let planted: string;

  before(async () => {
    // A fourth stdio entry reaches the server as fd 3 without close-on-exec, exactly like a
    // descriptor leaked by the server's own parent.
    proc = spawnServe(env, await freePort(), { extraFd: true });
    api = { url: proc.url };
    await waitHealthy(api.url, 120_000);
    planted = readlinkSync(`/proc/${proc.child.pid}/fd/3`);
    const t = await call(api, 'POST', '/v1/templates', { id: 'python' }, 600_000);
    assert.equal(t.status, 200, t.text);
  });

  after(() => stopServeAndCheck(proc, env, rec));

  test('a sandbox, its init, its supervisor and its commands hold none of them', async () => {
    const created = await call(api, 'POST', '/v1/fork', { template: 'python' });
    assert.equal(created.status, 200, created.text);
    const id = created.json.id as string;
    // A background process that outlives the request, and a shell whose own fds are listed by
    // a child (`ls`), so the listing opens nothing in the shell itself.
    const bg = await call(api, 'POST', '/v1/processes', { sandbox: id, command: 'exec sleep 600' });
    assert.equal(bg.status, 200, bg.text);
    const listed = await call(api, 'POST', '/v1/exec', {
      sandbox: id,
      command: 'ls -l /proc/$$/fd; echo; for p in /proc/[0-9]*; do echo $p; ls -l $p/fd; done 2>/dev/null',
    });
    assert.equal(listed.status, 200, listed.text);
    const [own = '', others = ''] = String(listed.json.stdout).split('\n\n');
    const fds = [...own.matchAll(/ (\d+) -> /g)].map((m) => m[1]);
    assert.deepEqual(fds, ['0', '1', '2'], `a command's descriptors:\n${own}`);
    const holders = holdersOf(planted).filter((h) => !h.startsWith(`${proc.child.pid}:`));
    assert.deepEqual(holders, [], `processes besides the server hold the inherited ${planted}`);
    // At the cause: whatever the server opens itself is close-on-exec; only what it inherited
    // (the planted one, and any this test process inherited in turn) is not.
    const ours = new Set(
      readdirSync('/proc/self/fd').map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return '';
        }
      }),
    );
    const opened = inheritable(proc.child.pid as number).filter((t) => t !== planted && !ours.has(t));
    assert.deepEqual(opened, [], 'descriptors the server opened without close-on-exec');
    rec.check(
      "a command lists its own /proc/self/fd; host scan for the server's inherited fd",
      'stdio only; held by the server alone',
    );
    rec.note(
      `descriptors of every process visible inside: ${others
        .split('\n')
        .filter((l) => / -> |^\/proc/.test(l))
        .map((l) => l.replace(/^.* (\d+ -> )/, '$1'))
        .join('; ')}`,
    );
    rec.count('attacks');
    const gone = await call(api, 'DELETE', `/v1/sandboxes/${id}`);
    assert.ok(gone.status < 300, gone.text);
  });

  test("the engine's spawner: its channel is the server's alone, closed to a local host user", () => {
    // `mitos-agent spawner <server pid>` starts every launcher; whoever could write its stdin
    // could have host root run anything.
    const server = String(proc.child.pid);
    const spawner = readdirSync('/proc').find((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv[1] === 'spawner' && argv[2] === server;
      } catch {
        return false;
      }
    });
    assert.ok(spawner, "the server's spawner is running");
    const held = readdirSync(`/proc/${spawner}/fd`)
      .filter((fd) => Number(fd) >= 3)
      .map((fd) => readlinkSync(`/proc/${spawner}/fd/${fd}`));
    // Besides its channel (0, 1) and stderr: its SIGCHLD descriptor and the pipes of children in
    // flight, never a socket or a file of the server's.
    assert.deepEqual(
      held.filter((t) => !/^(anon_inode:\[signalfd\]|pipe:\[\d+\])$/.test(t)),
      [],
      `the spawner holds ${held.join(', ')}`,
    );
    for (const argv of [
      ['sh', '-c', `echo x > /proc/${spawner}/fd/0`],
      ['cat', `/proc/${spawner}/fd/1`],
      ['ls', `/proc/${spawner}/fd`],
    ]) {
      const r = asLocalUser(argv);
      assert.notEqual(r.code, 0, `${argv.join(' ')} as nobody: ${r.out}`);
      assert.match(r.out, /Permission denied/, argv.join(' '));
    }
    rec.check("a local host user writes the spawner's stdin, reads its stdout, lists its fds", 'permission denied');
    rec.count('attacks', 3);
  });
});
