import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { MitosError } from '@mitos/protocol';
import { parseMountinfo, readMountinfo } from '../host/mountinfo.js';
import { detectCgroups, probeCgroups, removeCgroupParent } from './detect.js';
import { CgroupV1Manager, findV1Mounts } from './v1.js';
import { CgroupV2Manager } from './v2.js';

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;
const v1 = findV1Mounts();
const unified = readMountinfo().find((m) => m.fsType === 'cgroup2')?.mountPoint;

function startSleeper() {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  return { child, pid: child.pid as number, exited };
}

function taskState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('cgroup detection', () => {
  test('picks v2 for a unified hierarchy with the controllers, v1 for separate hierarchies', () => {
    const dir = mkdtempSync('/tmp/mitos-test-cgdetect-');
    try {
      const fakeV2 = parseMountinfo(`30 1 0:26 / ${dir} rw - cgroup2 cgroup2 rw`);
      writeFileSync(join(dir, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
      assert.deepEqual(probeCgroups({ root: dir, mountinfo: fakeV2 }), {
        version: 'v2',
        controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'],
        missing: [],
      });
      writeFileSync(join(dir, 'cgroup.controllers'), 'hugetlb\n');
      assert.deepEqual(probeCgroups({ root: dir, mountinfo: fakeV2 }).missing, ['memory', 'pids', 'cpu']);
      assert.throws(
        () => detectCgroups({ root: dir, mountinfo: fakeV2 }),
        (e: MitosError) => e.code === 'host_unsupported',
      );

      const fakeV1 = parseMountinfo(
        ['memory', 'pids', 'cpu,cpuacct', 'freezer']
          .map((c, i) => `${40 + i} 1 0:${40 + i} / /sys/fs/cgroup/${c} rw - cgroup cgroup rw,${c}`)
          .join('\n'),
      );
      assert.deepEqual(probeCgroups({ root: dir, mountinfo: fakeV1 }).missing, []);
      assert.deepEqual(findV1Mounts(fakeV1), {
        memory: '/sys/fs/cgroup/memory',
        pids: '/sys/fs/cgroup/pids',
        cpu: '/sys/fs/cgroup/cpu,cpuacct',
        cpuacct: '/sys/fs/cgroup/cpu,cpuacct',
        freezer: '/sys/fs/cgroup/freezer',
      });
      assert.equal(detectCgroups({ root: dir, mountinfo: fakeV1, parent: 'mitos-test-x' }).version, 'v1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('this host is detected', () => {
    const support = probeCgroups();
    assert.ok(support.version === 'v1' || support.version === 'v2');
  });
});

describe('cgroup v1', { skip: (!isRoot || !v1.memory) && 'needs root and cgroup v1 hierarchies' }, () => {
  const parent = `mitos-test-${process.pid}-v1`;
  const manager = new CgroupV1Manager({ parent });
  after(async () => {
    await removeCgroupParent(parent, manager);
    for (const dir of manager.parentDirs()) assert.equal(existsSync(dir), false, `${dir} removed`);
  });

  test('create writes the limits into every controller', async () => {
    const cg = await manager.create('limits', { memoryBytes: 256 * MiB, pids: 64, cpus: 0.5 });
    const read = (c: string, f: string) =>
      readFileSync(join(v1[c as 'memory'] as string, parent, 'limits', f), 'utf8').trim();
    assert.equal(read('memory', 'memory.limit_in_bytes'), String(256 * MiB));
    if (existsSync(join(v1.memory as string, parent, 'limits', 'memory.memsw.limit_in_bytes'))) {
      assert.equal(read('memory', 'memory.memsw.limit_in_bytes'), String(256 * MiB), 'no swap beyond the memory limit');
    }
    assert.equal(read('pids', 'pids.max'), '64');
    assert.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(read('cpu', 'cpu.cfs_period_us'), '100000');
    // Raising and lowering both work (memsw must stay >= limit at each step).
    await cg.setLimits({ memoryBytes: 512 * MiB, pids: 64, cpus: 2 });
    assert.equal(read('memory', 'memory.limit_in_bytes'), String(512 * MiB));
    assert.equal(read('cpu', 'cpu.cfs_quota_us'), '200000');
    await cg.setLimits({ memoryBytes: 128 * MiB, pids: 32, cpus: 1 });
    assert.equal(read('memory', 'memory.limit_in_bytes'), String(128 * MiB));
    await assert.rejects(
      cg.setLimits({ memoryBytes: -1, pids: 0, cpus: 0 }),
      (e: MitosError) => e.code === 'invalid_request',
    );
    assert.deepEqual(manager.list(), ['limits']);
    assert.ok(manager.open('limits'));
    assert.equal(manager.open('absent'), undefined);
    await cg.destroy();
    await cg.destroy();
    assert.equal(manager.open('limits'), undefined);
  });

  test('a real process: pids, freeze, thaw, usage, and destroy kills it', async () => {
    const cg = await manager.create('proc', { memoryBytes: 128 * MiB, pids: 16, cpus: 1 });
    const { pid, exited } = startSleeper();
    for (const file of cg.procsFiles) writeFileSync(file, String(pid));
    assert.equal(cg.procsFiles.length, new Set(Object.values(v1)).size);
    assert.deepEqual(await cg.pids(), [pid]);
    // v1 does not move charges with a task, so a process moved in late may show 0.
    assert.ok((await cg.memoryBytes()) >= 0);
    assert.ok((await cg.cpuUsageNs()) >= 0);

    await cg.freeze();
    assert.equal(readFileSync(join(v1.freezer as string, parent, 'proc', 'freezer.state'), 'utf8').trim(), 'FROZEN');
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /State:\s+[SD]/);
    await cg.thaw();
    assert.equal(readFileSync(join(v1.freezer as string, parent, 'proc', 'freezer.state'), 'utf8').trim(), 'THAWED');
    assert.equal(taskState(pid), 'S');

    await cg.destroy();
    assert.equal(await exited, 'SIGKILL');
    for (const dir of manager.parentDirs()) assert.equal(existsSync(join(dir, 'proc')), false);
  });

  test('destroy also works on a frozen cgroup', async () => {
    const cg = await manager.create('frozen', { memoryBytes: 64 * MiB, pids: 16, cpus: 1 });
    const { pid, exited } = startSleeper();
    for (const file of cg.procsFiles) writeFileSync(file, String(pid));
    await cg.freeze();
    await cg.destroy();
    assert.equal(await exited, 'SIGKILL');
  });
});

describe('cgroup v2 (freeze and kill on the unified hierarchy)', {
  skip: (!isRoot || !unified) && 'needs root and a cgroup2 mount',
}, () => {
  const parent = `mitos-test-${process.pid}-v2`;
  // On this hybrid host cgroup2 has no controllers; freeze, kill and procs still work.
  const controllers = (() => {
    try {
      const have = readFileSync(join(unified as string, 'cgroup.controllers'), 'utf8').split(/\s+/);
      return (['memory', 'pids', 'cpu'] as const).filter((c) => have.includes(c));
    } catch {
      return [];
    }
  })();
  const manager = new CgroupV2Manager({
    root: unified,
    parent,
    controllers: controllers.length === 3 ? controllers : [],
  });
  after(async () => {
    await removeCgroupParent(parent, manager);
    assert.equal(existsSync(join(unified as string, parent)), false);
  });

  test('a real process: freeze via cgroup.freeze, thaw, destroy via cgroup.kill', async () => {
    const cg = await manager.create('proc', { memoryBytes: 128 * MiB, pids: 16, cpus: 1 });
    const { pid, exited } = startSleeper();
    writeFileSync(cg.procsFiles[0] as string, String(pid));
    assert.deepEqual(await cg.pids(), [pid]);
    await cg.freeze();
    assert.match(readFileSync(join(unified as string, parent, 'proc', 'cgroup.events'), 'utf8'), /^frozen 1$/m);
    await cg.thaw();
    assert.match(readFileSync(join(unified as string, parent, 'proc', 'cgroup.events'), 'utf8'), /^frozen 0$/m);
    assert.ok((await cg.cpuUsageNs()) >= 0);
    assert.deepEqual(manager.list(), ['proc']);
    await cg.destroy();
    assert.equal(await exited, 'SIGKILL');
    assert.equal(manager.open('proc'), undefined);
  });
});
