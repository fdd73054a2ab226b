/**
 * crun and runc running the same bundle. Debian's crun 1.8 refuses the hybrid cgroup layout
 * while a cgroup2 tree is mounted at /sys/fs/cgroup/unified, so on such hosts it runs inside a
 * private mount namespace with that tree covered by an empty tmpfs; the cost of that wrapper
 * alone is measured too so a reader can subtract it.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cgroupMounts } from '../host/cgroup-fs.js';
import { shellJoin } from '../host/shell.js';
import { timeExpecting } from '../host/spawn-timing.js';
import { type Contender, type PeerSetup, WORKLOADS, type Workload } from './contender.js';
import { missingMountTargets, writeBundle } from './oci-bundle.js';

export type OciRuntime = 'crun' | 'runc';

export interface OciContext {
  rootfs: string;
  /** Where bundles and runtime state go (inside the bench's temp dir). */
  workDir: string;
  /** cgroup parent of the containers; removed at the end of the run. */
  cgroupParent: string;
  uidBase: number;
  uidCount: number;
  limits: { memoryBytes: number; pids: number; cpus: number };
}

const UNIFIED = '/sys/fs/cgroup/unified';
const HIDE_UNIFIED = `mount -t tmpfs none ${UNIFIED} && exec "$@"`;

export async function setupOci(runtime: OciRuntime, ctx: OciContext): Promise<PeerSetup> {
  const version = spawnSync(runtime, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim();
  const missing = missingMountTargets(ctx.rootfs);
  if (missing.length > 0) {
    return skip(runtime, version, `rootfs lacks mount targets ${missing.join(', ')}`);
  }
  const wrap = runtime === 'crun' && cgroupMounts().some((m) => m.version === 2 && m.mountPoint === UNIFIED);
  const contenders = (['echo', 'python'] as const).map((w) => contender(runtime, w, ctx, wrap));
  if (wrap) contenders.push(wrapperAlone());
  try {
    for (const c of contenders) await c.run();
  } catch (err) {
    return skip(runtime, version, (err as Error).message);
  }
  return {
    subject: runtime,
    label: `${runtime} (user namespace 0->${ctx.uidBase}, cgroup limits)`,
    version,
    contenders,
    note: wrap ? `crun runs under \`unshare -m\` with ${UNIFIED} hidden (hybrid cgroup layout)` : undefined,
  };
}

function skip(runtime: OciRuntime, version: string | undefined, why: string): PeerSetup {
  return { subject: runtime, label: runtime, version, contenders: [], skipped: why };
}

function contender(runtime: OciRuntime, workload: Workload, ctx: OciContext, wrap: boolean): Contender {
  const name = `${runtime}-${workload}`;
  const bundle = writeBundle(join(ctx.workDir, 'bundles', name), {
    rootfs: ctx.rootfs,
    args: WORKLOADS[workload].argv,
    uidBase: ctx.uidBase,
    uidCount: ctx.uidCount,
    cgroupsPath: `/${ctx.cgroupParent}/${name}`,
    limits: ctx.limits,
  });
  const stateRoot = join(ctx.workDir, `${runtime}-state`);
  let serial = 0;
  const argv = (id: string) => {
    const run = [runtime, '--root', stateRoot, 'run', '--bundle', bundle, id];
    return wrap ? ['unshare', '-m', 'sh', '-c', HIDE_UNIFIED, 'sh', ...run] : run;
  };
  const shown = shellJoin(argv(`${name}-1`))
    .replace(bundle, '"$BUNDLE"')
    .replace(stateRoot, '"$STATE"');
  return {
    subject: runtime,
    workload,
    id: `peer.${runtime}.${workload}`,
    label: `${runtime} run to output: ${WORKLOADS[workload].shell}`,
    reproduce: shown,
    parts: { exit: { label: `${runtime} run to exit: ${WORKLOADS[workload].shell}` } },
    async run() {
      const [cmd, ...args] = argv(`${name}-${process.pid}-${serial++}`);
      const t = await timeExpecting({ command: cmd!, args }, WORKLOADS[workload].expected);
      return { ms: t.firstOutputMs, parts: { exit: t.exitMs } };
    },
  };
}

/** The `unshare -m` + tmpfs wrapper crun needs here, running a plain host `echo hi`. */
function wrapperAlone(): Contender {
  const args = ['-m', 'sh', '-c', HIDE_UNIFIED, 'sh', 'echo', 'hi'];
  return {
    subject: 'crun',
    workload: 'echo',
    id: 'peer.crun.wrapper',
    label: 'the unshare -m wrapper alone (host echo hi), included in the crun figures',
    reproduce: `unshare ${shellJoin(args)}`,
    async run() {
      const t = await timeExpecting({ command: 'unshare', args }, 'hi');
      return { ms: t.firstOutputMs };
    },
  };
}
