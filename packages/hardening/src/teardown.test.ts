/**
 * Item 10 of issue 12, the teardown race: under outside CPU load, tearing an engine down while
 * its sandboxes ran once left the btrfs loop device attached (each sandbox's launcher kept a
 * private mount namespace holding a copy of the volume mount, so the unmount left the
 * filesystem alive), and the failed clean-up then left four cgroups. Here CPU hogs run the
 * whole time; sandboxes and a fork child are live; no sandbox process may hold the volume in
 * a mount namespace of its own; and a clean-up leaves no mount, loop device, cgroup, process
 * or state directory.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testEngineEnv } from '@mitos/testkit';
import { Recorder } from './figures.js';
import { leaksOf, parentPidOf, sandboxCgroupName, sandboxHostPids } from './host.js';

const rec = new Recorder('teardown', 'Tearing an engine down under CPU load', 10);
const ROUNDS = 1;

/** "major:minor" of the filesystem holding `path`, as /proc/PID/mountinfo writes it. */
function deviceOf(path: string): string {
  const dev = statSync(path).dev;
  // Linux's new_encode_dev layout, the one stat(2) reports.
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/** Processes whose mount namespace is not the host's and still holds a mount of `device`. */
function pinnersOf(device: string, pids: number[]): string[] {
  const hostNs = readlinkSync('/proc/self/ns/mnt');
  const out: string[] = [];
  for (const pid of pids) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/mnt`) === hostNs) continue;
      const held = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
        .split('\n')
        .filter((line) => line.split(' ')[2] === device);
      if (held.length > 0) out.push(`pid ${pid}: ${held[0]?.split(' ')[4]}`);
    } catch {
      // exited while we looked
    }
  }
  return out;
}

describe('engine teardown under CPU load', { timeout: 600_000 }, () => {
  const hogs: ChildProcess[] = [];

  before(() => {
    for (let i = 0; i < 2; i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  });

  after(() => {
    for (const hog of hogs) if (hog.pid) process.kill(hog.pid, 'SIGKILL');
    rec.finding(
      'under outside load, a clean-up failed with the loop device still attached (launchers kept a private copy of the volume mount) and then left four cgroups (now the launcher returns to the host mount namespace, and the clean-up removes cgroups and the state dir whatever fails first)',
    );
    rec.save();
  });

  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: live sandboxes and a fork pin nothing, and clean-up leaves no trace`, async () => {
      const env = testEngineEnv();
      let leaks: string[] = [];
      try {
        const engine = await env.open();
        await engine.ensureTemplate({ id: 'python' });
        const ids = [`td-a-${round}-${process.pid}`, `td-b-${round}-${process.pid}`];
        for (const id of ids) await engine.create({ id, templateId: 'python' });
        await engine.fork(ids[0] as string, { count: 1, ids: [`td-c-${round}-${process.pid}`] });
        const device = deviceOf(join(env.stateDir, 'storage', 'vol'));
        const pids = engine
          .list()
          .flatMap((s) => sandboxHostPids(env.cgroupParent, sandboxCgroupName(env.stateDir, s.id)));
        assert.ok(pids.length >= 3, `expected the sandboxes' processes, found ${pids.length}`);
        // The supervisors (launchers) live outside the sandbox cgroups: the inits' parents.
        const supervisors = pids.map(parentPidOf).filter((p): p is number => p !== undefined && p > 1);
        const pinners = pinnersOf(device, [...pids, ...supervisors]);
        assert.deepEqual(pinners, [], 'a sandbox process holds the storage volume in a mount namespace of its own');
        rec.check(`round ${round}: sandbox and launcher mount namespaces holding the volume`, 'none');
      } finally {
        await env.cleanup();
        leaks = leaksOf(env.stateDir, env.cgroupParent);
      }
      rec.count('leaks_found', leaks.length);
      assert.deepEqual(leaks, [], 'clean-up left traces');
      assert.equal(existsSync(env.stateDir), false, 'state dir removed');
      rec.check(`round ${round}: clean-up with 2 CPU hogs running`, 'no mount, loop device, cgroup or process left');
      rec.count('attacks');
    });
  }
});
