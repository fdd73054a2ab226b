/**
 * A real Kubernetes control plane for the integration tier, from scripts/kube: build (or take
 * from /var/cache/mitos/kube) kube-apiserver, kube-controller-manager and kubectl from Debian's
 * source package, then run etcd + apiserver + garbage collector on loopback until stopped.
 * When the machine cannot build them at all, `startKubeCluster` says why instead of failing.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Child, startChild } from './child-process.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface KubeCluster {
  server: string;
  dir: string;
  /** Where kube-apiserver, kube-controller-manager and kubectl are. */
  bin: string;
  /** system:masters. */
  kubeconfig: string;
  /** The mitos-controller service account (RBAC from deploy/kustomize/base/rbac.yaml). */
  controllerKubeconfig: string;
  /** The mitos-node service account. */
  nodeKubeconfig: string;
  /** An SDK user holding the mitos-sandbox-user role in namespace default (crd-v1.md 9.10). */
  userKubeconfig: string;
  stop(): Promise<void>;
}

/** Exit codes of scripts/kube/build.sh that mean "this machine cannot build it". */
const CANNOT_BUILD: Record<number, string> = {
  2: 'the kubernetes source package cannot be fetched (no Debian mirror) and no build is cached',
  3: 'the Go toolchain and etcd are not installed and this process is not root to install them',
};

export function buildKubeBinaries(): { bin: string } | { skip: string } {
  if (spawnSync('which', ['apt-get']).status !== 0 && !cachedBuildExists()) {
    return { skip: 'not a Debian machine and no kube-apiserver build is cached' };
  }
  const started = Date.now();
  const build = spawnSync(join(repoRoot, 'scripts/kube/build.sh'), [], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const reason = CANNOT_BUILD[build.status ?? -1];
  if (reason) return { skip: `kube-apiserver cannot be built here: ${reason}` };
  if (build.status !== 0)
    throw new Error(`scripts/kube/build.sh failed (exit ${build.status}):\n${build.stderr.slice(-4000)}`);
  const bin = build.stdout.trim().split('\n').at(-1) ?? '';
  if (Date.now() - started > 30_000)
    process.stderr.write(`[kube] built kube binaries in ${Math.round((Date.now() - started) / 1000)} s\n`);
  return { bin };
}

function cachedBuildExists(): boolean {
  return existsSync('/var/cache/mitos/kube');
}

export async function startKubeCluster(applies: string[]): Promise<KubeCluster> {
  const dir = mkdtempSync('/tmp/mitos-test-kube-');
  const args = ['--dir', dir, ...applies.flatMap((a) => ['--apply', a])];
  // Its own process group, so a stop can always take down etcd and the apiserver with it.
  const script: Child = startChild(join(repoRoot, 'scripts/kube/start.sh'), args, {
    cwd: repoRoot,
    detached: true,
    name: 'kube control plane',
  });
  const stop = async () => {
    await script.stop(30_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForFile(join(dir, 'ready'), 180_000, script);
  } catch (err) {
    await stop();
    throw err;
  }
  const ready = JSON.parse(readFileSync(join(dir, 'ready'), 'utf8')) as Omit<KubeCluster, 'stop'>;
  return { ...ready, stop };
}

async function waitForFile(path: string, timeoutMs: number, script: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (script.exited) throw new Error(`the control plane did not start:\n${script.tail()}`);
    if (Date.now() > deadline)
      throw new Error(`the control plane was not ready after ${timeoutMs} ms:\n${script.tail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
