/**
 * podman, the most common way people start a container, with runc (Debian's podman 4.3 runs
 * here only with runc and without its default ulimits: the host lacks CAP_SYS_RESOURCE). The
 * image is imported from the cached python rootfs, never pulled, and kept between runs (keyed
 * on the rootfs's cache key) because importing 1+ GB takes far longer than the benchmark.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellJoin } from '../host/shell.js';
import { timeExpecting } from '../host/spawn-timing.js';
import type { Contender, PeerSetup, Workload } from './contender.js';
import { WORKLOADS } from './contender.js';
import type { CachedRootfs } from './rootfs.js';

const IMAGE_NAME = 'localhost/mitos-bench-python';

export async function setupPodman(
  rootfs: CachedRootfs,
  workDir: string,
  log: (line: string) => void,
): Promise<PeerSetup> {
  const conf = join(workDir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const version = spawnSync('podman', ['--version'], { encoding: 'utf8', env }).stdout?.trim();
  const image = `${IMAGE_NAME}:${rootfs.key.slice(0, 12)}`;
  let note: string | undefined;
  if (spawnSync('podman', ['image', 'exists', image], { env }).status !== 0) {
    log(`importing ${rootfs.rootfs} into podman as ${image} (once; kept for later runs)`);
    const started = performance.now();
    const imported = spawnSync(
      'bash',
      ['-o', 'pipefail', '-c', 'tar -C "$0" -c . | podman import - "$1"', rootfs.rootfs, image],
      {
        encoding: 'utf8',
        env,
        timeout: 20 * 60_000,
      },
    );
    if (imported.status !== 0) {
      const why = (imported.stderr ?? '').trim().split('\n').slice(-2).join(' / ');
      return { subject: 'podman', label: 'podman', version, contenders: [], skipped: `podman import failed: ${why}` };
    }
    note = `image imported in ${((performance.now() - started) / 1000).toFixed(0)} s (not part of any figure)`;
  }
  const contenders = (['echo', 'python'] as const).map((w) => contender(w, image, env));
  try {
    for (const c of contenders) await c.run();
  } catch (err) {
    return { subject: 'podman', label: 'podman', version, contenders: [], skipped: (err as Error).message };
  }
  return { subject: 'podman', label: 'podman run --rm (runtime runc)', version, contenders, note };
}

function contender(workload: Workload, image: string, env: NodeJS.ProcessEnv): Contender {
  const args = [
    '--runtime',
    'runc',
    'run',
    '--rm',
    '--pull=never',
    '--network',
    'none',
    image,
    ...WORKLOADS[workload].argv,
  ];
  return {
    subject: 'podman',
    workload,
    id: `peer.podman.${workload}`,
    label: `podman run to output: ${WORKLOADS[workload].shell}`,
    reproduce: `CONTAINERS_CONF=containers.conf podman ${shellJoin(args)}`,
    parts: { exit: { label: `podman run to exit (includes --rm): ${WORKLOADS[workload].shell}` } },
    async run() {
      const t = await timeExpecting({ command: 'podman', args, env }, WORKLOADS[workload].expected);
      return { ms: t.firstOutputMs, parts: { exit: t.exitMs } };
    },
  };
}
