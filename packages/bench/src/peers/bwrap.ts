/**
 * bubblewrap as an unprivileged host user: a fresh user, pid, net, ipc, uts and cgroup namespace
 * around the python rootfs, no cgroup limits, no daemon and no state. That is about the least
 * work any namespace sandbox can do, so it serves as the physical floor.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { shellJoin } from '../host/shell.js';
import { timeExpecting } from '../host/spawn-timing.js';
import { type Contender, type PeerSetup, WORKLOADS, type Workload } from './contender.js';

/** nobody: outside the sandbox uid range, owns nothing. */
const UNPRIVILEGED_UID = 65534;
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/' };

export async function setupBwrap(rootfs: string): Promise<PeerSetup> {
  const version = spawnSync('bwrap', ['--version'], { encoding: 'utf8' }).stdout?.trim();
  const contenders = (['echo', 'python'] as const).map((w) => contender(rootfs, w));
  try {
    for (const c of contenders) await c.run();
  } catch (err) {
    return { subject: 'bwrap', label: 'bubblewrap', version, contenders: [], skipped: (err as Error).message };
  }
  return { subject: 'bwrap', label: 'bubblewrap (unprivileged uid, floor)', version, contenders };
}

function contender(rootfs: string, workload: Workload): Contender {
  const { argv, expected } = WORKLOADS[workload];
  const args = [
    '--unshare-all',
    '--die-with-parent',
    '--ro-bind',
    rootfs,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--chdir',
    '/',
    '--',
    ...argv,
  ];
  return {
    subject: 'bwrap',
    workload,
    id: `peer.bwrap.${workload}`,
    label: `bwrap spawn to output: ${WORKLOADS[workload].shell}`,
    reproduce: `setpriv --reuid=${UNPRIVILEGED_UID} --regid=${UNPRIVILEGED_UID} --clear-groups bwrap ${shellJoin(args).replace(rootfs, '"$ROOTFS"')}`,
    parts: { exit: { label: `bwrap spawn to exit: ${WORKLOADS[workload].shell}` } },
    async run() {
      const t = await timeExpecting(
        { command: 'bwrap', args, env: ENV, uid: UNPRIVILEGED_UID, gid: UNPRIVILEGED_UID },
        expected,
      );
      return { ms: t.firstOutputMs, parts: { exit: t.exitMs } };
    },
  };
}
