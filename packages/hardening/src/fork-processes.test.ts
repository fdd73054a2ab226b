/**
 * The process-carrying fork's surfaces under attack: the checkpoint tool that setup installs
 * runs as host root against sandbox processes, so no local user may read or change it; a
 * hostile process must not hide from the fork report by taking the agent's name; a carried
 * child's agent is as closed to sandbox root as the first one, whatever the child's processes
 * claim.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { criuTreePath, defaultCacheDir } from '@mitos/engine';
import { create, type Sandbox } from '@mitos/sdk';
import { until } from '@mitos/testkit';
import { Recorder } from './figures.js';
import { type LiveServer, liveServer, stopAndCheck } from './live.js';
import { asLocalUser } from './local-user.js';

const rec = new Recorder('fork-processes', 'Fork with processes: the checkpoint tool and the fork report', 8);

describe('fork with processes: the checkpoint tool and the fork report', { timeout: 300_000 }, () => {
  let live: LiveServer;
  let parent: Sandbox;

  before(async () => {
    live = await liveServer();
    parent = await create('python', { baseUrl: live.url });
  });

  after(async () => {
    await parent?.terminate().catch(() => {});
    await stopAndCheck(live, rec);
  });

  test('a local host user can neither read nor replace the CRIU that runs as root', () => {
    const tree = criuTreePath(defaultCacheDir());
    const st = statSync(tree);
    assert.equal(st.uid, 0, 'tree owner');
    assert.equal(st.mode & 0o077, 0, `tree mode ${(st.mode & 0o777).toString(8)}`);
    const list = asLocalUser(['ls', join(tree, 'usr', 'sbin')]);
    assert.notEqual(list.code, 0, 'a local user listed the CRIU tree');
    const plant = asLocalUser(['touch', join(tree, 'usr', 'sbin', 'criu')]);
    assert.notEqual(plant.code, 0, 'a local user touched the criu binary');
    rec.check('local user lists or writes the CRIU tree', 'refused: root-owned, 0700');
    rec.count('attacks', 2);
  });

  test('a process named like the agent still shows in the report of what was not carried', async () => {
    await parent.exec("bash -c 'exec -a mitos-init sleep 3600' >/dev/null 2>&1 &");
    // The default fork (processes omitted) is the files fork on linux, and names what it leaves.
    const report = await parent.forkWithReport(1);
    try {
      assert.equal(report.carried.processes, false);
      const disguised = report.carried.processesNotCarried.filter((p) => /^mitos-init/.test(p.command));
      const sleeps = await parent.exec("pgrep -f '^mitos-init 3600' || true");
      const pid = Number(sleeps.stdout.trim().split('\n')[0]);
      assert.ok(pid > 1, `the disguised process is running (${sleeps.stdout})`);
      assert.ok(
        report.carried.processesNotCarried.some((p) => p.pid === pid),
        `pid ${pid} missing from ${JSON.stringify(disguised)}`,
      );
      rec.check('process renamed mitos-init hides from processes_not_carried', 'listed by pid');
    } finally {
      for (const child of report.children) await child.terminate();
    }
    rec.count('attacks');
  });

  test('a carried child: its agent is closed to sandbox root, a forged agent claim is ignored, no images left', async () => {
    // A process of the parent, so the child is a restore of a live tree.
    await parent.exec('sleep 3600 >/dev/null 2>&1 &');
    const report = await parent.forkWithReport(1, { processes: 'all' });
    const child = report.children[0] as Sandbox;
    try {
      assert.equal(report.carried.processes, true);
      assert.match((await child.exec('pgrep -x sleep || true')).stdout, /\d+/, 'the sleep was carried');
      // The restored copy of the parent's agent would belong to the child's user namespace (and
      // so to sandbox root): the child's agent must be a fresh one, closed like the first.
      const agent = await child.exec(
        'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = mitos-agent ] && basename $p; done',
      );
      const pids = agent.stdout.trim().split('\n').filter(Boolean);
      assert.ok(pids.length >= 1, 'no agent found in the child');
      for (const pid of pids) {
        const environ = await child.exec(`cat /proc/${pid}/environ >/dev/null`);
        assert.notEqual(environ.exitCode, 0, `sandbox root read /proc/${pid}/environ of the child's agent`);
        const fds = await child.exec(`ls /proc/${pid}/fd`);
        assert.notEqual(fds.exitCode, 0, `sandbox root listed /proc/${pid}/fd of the child's agent`);
      }
      rec.check("sandbox root reads a carried child's agent /proc files", 'refused: a fresh agent, host-owned');
      // Anyone inside can send pid 1 the "this is the agent now" signal; a claim from a process
      // pid 1 can open is ignored (had it been taken, this shell's exit would end the sandbox).
      // The claimant is orphaned to pid 1, so pid 1 reaps it: an adopted claim would end here.
      const claimant = (await child.exec("sh -c '(kill -USR1 1; exec sleep 0.3) & echo $!'")).stdout.trim();
      await until(
        async () => (await child.exec(`kill -0 ${claimant} 2>/dev/null || echo gone`)).stdout.trim() === 'gone',
        20_000,
        'the claimant to end',
      );
      assert.equal((await child.exec('echo alive')).stdout.trim(), 'alive');
      rec.check('a sandbox process claims to be the agent (SIGUSR1 to pid 1)', 'ignored, sandbox runs on');
      assert.deepEqual(
        readdirSync('/dev/shm').filter((n) => n.startsWith(`${basename(live.env.stateDir)}-fork-`)),
        [],
        'checkpoint images left behind',
      );
    } finally {
      await child.terminate();
    }
    rec.count('attacks', 2);
  });

  test("the agent program run from inside as CRIU's restore hook enters no namespace", async () => {
    // A carried fork's restore runs the agent program as CRIU's action script (it brings
    // loopback up in the restored namespace); inside, the same program is /opt/mitos/init.
    const hook = (pid: string) =>
      parent.exec(
        `CRTOOLS_SCRIPT_ACTION=setup-namespaces CRTOOLS_INIT_PID=${pid} /opt/mitos/init </dev/null 2>&1; echo "rc=$?"`,
      );
    const links = async () => (await parent.exec('cat /proc/net/dev')).stdout.split('\n').length;
    const before = await links();
    // A host pid (this test's own) does not exist in the sandbox's pid namespace; even its own
    // pid 1's namespace is refused to a sandbox process.
    for (const pid of [String(process.pid), '1', '0', '-1', '1x', '']) {
      const out = (await hook(pid)).stdout;
      assert.match(out, /rc=[1-9]/, `the hook entered pid ${pid}'s namespace: ${out}`);
    }
    assert.equal(await links(), before, 'the hook changed the sandbox network');
    assert.equal((await parent.exec('echo alive')).stdout.trim(), 'alive');
    rec.check(
      "sandbox process runs the agent as CRIU's restore hook on another pid",
      'refused: no namespace entered, the network unchanged',
    );
    rec.count('attacks');
  });
});
