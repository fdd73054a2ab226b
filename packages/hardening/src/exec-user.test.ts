/**
 * A command run as a user of the sandbox (the engine's `user` option, which the E2B surface
 * uses for every command) tries to become root again: its ids and groups are exactly the
 * user's, it holds no capability, and each way back to uid 0 is refused: set*id calls, a new
 * group list, signals and /proc reads of root's processes (the sandbox's init and its agent),
 * and rewriting /etc/passwd. A crafted user name is refused before anything runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, type Sandbox } from '@mitos/sdk';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';

const rec = new Recorder('exec-user', 'Commands run as a user of the sandbox: no way back to root', 10);

const ADD_USER = [
  "echo 'eve:x:4501:4501::/home/eve:/bin/sh' >> /etc/passwd",
  "echo 'eve:x:4501:' >> /etc/group",
  "echo 'staff2:x:4600:eve' >> /etc/group",
].join(' && ');

/** Each attempt prints `name ok` (it worked: a finding) or `name refused ERRNO`. */
const ESCAPES = String.raw`
import os, signal, errno
def attempt(name, fn):
    try:
        fn()
        print(name, "ok")
    except OSError as e:
        print(name, "refused", errno.errorcode.get(e.errno, e.errno))
attempt("setuid0", lambda: os.setuid(0))
attempt("setresuid0", lambda: os.setresuid(0, 0, 0))
attempt("setgid0", lambda: os.setgid(0))
attempt("setgroups0", lambda: os.setgroups([0]))
attempt("kill-init", lambda: os.kill(1, signal.SIGKILL))
agent = int(open("/proc/1/task/1/children").read().split()[0])
attempt("kill-agent", lambda: os.kill(agent, signal.SIGSTOP))
attempt("environ-init", lambda: open("/proc/1/environ", "rb").read())
attempt("mem-agent", lambda: open("/proc/%d/mem" % agent, "rb").read(1))
attempt("passwd-write", lambda: open("/etc/passwd", "a").write("eve2::0:0::/:/bin/sh\n"))
attempt("root-home", lambda: os.listdir("/root"))
st = {l.split(":")[0]: l.split(":")[1].strip() for l in open("/proc/self/status") if ":" in l}
print("ids", st["Uid"], "|", st["Gid"], "|", st["Groups"])
print("caps", st["CapInh"], st["CapPrm"], st["CapEff"], st["CapAmb"])
`;

describe('commands run as a user of the sandbox: no way back to root', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let box: Sandbox;

  before(async () => {
    live = await liveServer();
    box = await create('python', { baseUrl: live.url });
    const added = await box.exec(`${ADD_USER} && chmod 700 /root`);
    assert.equal(added.exitCode, 0, added.stderr);
  });

  after(async () => {
    await box?.terminate().catch(() => {});
    await stopAndCheck(live, rec);
  });

  test("the command holds exactly the user's ids and groups, no capability, and every way back to root fails", async () => {
    const r = await live.engine.exec(box.id, { command: `python3 -c '${ESCAPES}'`, timeoutMs: 60_000, user: 'eve' });
    const out = r.stdout.toString();
    assert.equal(r.exitCode, 0, `${out}\n${r.stderr.toString()}`);
    const lines = new Map(
      out
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]),
    );
    for (const name of ['setuid0', 'setresuid0', 'setgid0', 'setgroups0', 'kill-init', 'kill-agent']) {
      assert.equal(lines.get(name), 'refused EPERM', `${name}: ${out}`);
    }
    for (const name of ['environ-init', 'mem-agent', 'passwd-write', 'root-home']) {
      assert.equal(lines.get(name), 'refused EACCES', `${name}: ${out}`);
    }
    assert.equal(lines.get('ids'), '4501\t4501\t4501\t4501 | 4501\t4501\t4501\t4501 | 4501 4600', out);
    assert.equal(lines.get('caps'), '0000000000000000 0000000000000000 0000000000000000 0000000000000000', out);
    // The sandbox is whole afterwards: root still runs commands, init and agent are alive.
    const root = await box.exec('id -u; grep -c eve2 /etc/passwd || true');
    assert.equal(root.stdout, '0\n0\n');
    rec.check('set*id to 0, setgroups([0]) as a user', 'EPERM: no capability is left (CapPrm/CapEff/CapAmb 0)');
    rec.check("signal the sandbox's init and agent as a user", 'EPERM');
    rec.check("read init's environ, the agent's memory, /root; append to /etc/passwd", 'EACCES');
    rec.count('attacks', 10);
  });

  test('a crafted or unknown user name is refused with invalid_request before anything runs', async () => {
    for (const user of ['root:x:0:0', 'eve\nroot', '../../root', 'eve,root', 'nobody-here', 'x'.repeat(200)]) {
      await assert.rejects(
        live.engine.exec(box.id, { command: 'touch /tmp/ran', timeoutMs: 30_000, user }),
        (err: unknown) => (err as { code?: string }).code === 'invalid_request',
        JSON.stringify(user),
      );
    }
    assert.equal((await box.exec('test -e /tmp/ran; echo $?')).stdout, '1\n');
    rec.check('user names with :, newline, path, comma, unknown, 200 bytes', 'invalid_request; nothing ran');
    rec.count('attacks', 6);
  });
});
