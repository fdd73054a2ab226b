import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ownProcsFile, primeCgroupAttach } from './attach-prime.js';
import { detectCgroups } from './detect.js';

const V1 = '12:pids:/user.slice\n5:memory:/system.slice/mitos.service\n3:cpu,cpuacct:/x\n0::/unified/y\n';

test('ownProcsFile finds the v1 hierarchy of a controller, co-mounted ones, and the unified one', () => {
  assert.equal(
    ownProcsFile('/sys/fs/cgroup/memory', 'memory', V1),
    '/sys/fs/cgroup/memory/system.slice/mitos.service/cgroup.procs',
  );
  assert.equal(ownProcsFile('/c/cpu,cpuacct', 'cpuacct', V1), '/c/cpu,cpuacct/x/cgroup.procs');
  assert.equal(ownProcsFile('/sys/fs/cgroup', undefined, V1), '/sys/fs/cgroup/unified/y/cgroup.procs');
  assert.equal(ownProcsFile('/sys/fs/cgroup', undefined, '0::/\n'), '/sys/fs/cgroup/cgroup.procs');
  assert.equal(ownProcsFile('/m', 'freezer', V1), undefined, 'a controller this process is not in');
});

test('priming writes our own pid into our own cgroup, which moves nothing; a bad file is ignored', async () => {
  const before = readFileSync('/proc/self/cgroup', 'utf8');
  const file = detectCgroups({ parent: 'mitos-test-prime' }).primeFile;
  assert.ok(file && existsSync(file), `the engine's own cgroup.procs is found (${file})`);
  await primeCgroupAttach(file);
  assert.ok(readFileSync(file, 'utf8').split('\n').includes(String(process.pid)), 'we are listed there');
  assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before, 'still in the same cgroups');
  await primeCgroupAttach('/nonexistent/cgroup.procs');
  await primeCgroupAttach(undefined);
});
