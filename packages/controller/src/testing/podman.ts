/**
 * The mitos container image for the integration tier: built (or taken from the cache) by
 * scripts/image/build.mjs, loaded into a podman store of the test's own under its state
 * directory, so the host's podman images and containers are never touched; everything made
 * is removed by id.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './kube-cluster.js';

export interface BuiltImage {
  name: string;
  archive: string;
  labels: Record<string, string>;
}

/** Runs `npm run image` (cached by its inputs); the first build on a machine takes minutes. */
export function buildImage(): BuiltImage {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/image/build.mjs'), '--json'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`image build failed:\n${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as BuiltImage;
}

/** Why the image cannot be built and run here; undefined when it can. Only "not root" may skip. */
export function imageUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'building the image and running it privileged need root';
  for (const tool of ['podman', 'runc', 'umoci', 'skopeo', 'debootstrap']) {
    // setup.mjs installs these on every machine that runs the suite as root: missing is a failure.
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is not installed: run node scripts/setup.mjs`);
  }
  return undefined;
}

export class Podman {
  private readonly containers = new Set<string>();
  private readonly images = new Set<string>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // podman's default ulimits (nofile/nproc 1048576) exceed this host's hard limits and the
    // bounding set lacks CAP_SYS_RESOURCE to raise them: containers inherit ours instead.
    writeFileSync(join(dir, 'containers.conf'), '[containers]\ndefault_ulimits = []\n');
  }

  /** podman with its storage, runtime state and events under this test's directory. */
  run(args: string[], timeoutMs = 5 * 60_000): string {
    const global = [
      '--root',
      join(this.dir, 'storage'),
      '--runroot',
      join(this.dir, 'run'),
      '--tmpdir',
      join(this.dir, 'tmp'),
      '--storage-driver',
      'overlay',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      // Debian's crun refuses a cgroup v1/v2 hybrid host (such as this one); runc does not.
      '--runtime',
      'runc',
    ];
    const r = spawnSync('podman', [...global, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, CONTAINERS_CONF: join(this.dir, 'containers.conf') },
    });
    if (r.status !== 0)
      throw new Error(`podman ${args.slice(0, 3).join(' ')} failed (${r.status}): ${r.stderr.slice(-3000)}`);
    return r.stdout;
  }

  /** Loads a `podman load` archive; returns the image id. */
  load(archive: string): string {
    this.run(['load', '--quiet', '--input', archive], 20 * 60_000);
    const id = this.run(['images', '--quiet', '--no-trunc']).trim().split('\n')[0] ?? '';
    if (!id) throw new Error('podman load left no image');
    this.images.add(id);
    return id;
  }

  /** `podman run --detach`; returns the container id, removed again by `cleanup`. */
  start(args: string[]): string {
    const id = this.run(['run', '--detach', ...args]).trim();
    this.containers.add(id);
    return id;
  }

  logs(id: string): string {
    try {
      return this.run(['logs', id], 30_000);
    } catch (err) {
      return String(err);
    }
  }

  stop(id: string): void {
    this.run(['stop', '--time', '15', id], 60_000);
    this.run(['rm', '--force', id], 60_000);
    this.containers.delete(id);
  }

  cleanup(): void {
    for (const id of this.containers) {
      try {
        this.run(['rm', '--force', '--time', '5', id], 60_000);
      } catch (err) {
        process.stderr.write(`podman cleanup: ${String(err)}\n`);
      }
    }
    for (const id of this.images) {
      try {
        this.run(['rmi', '--force', id], 60_000);
      } catch (err) {
        process.stderr.write(`podman cleanup: ${String(err)}\n`);
      }
    }
    // The overlay store leaves its own mounts behind for a moment after rmi; unmount what is left.
    spawnSync('sh', ['-c', `grep -o " ${this.dir}/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
