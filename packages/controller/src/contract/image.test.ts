// The image `npm run image` builds, run with podman: `mitos serve` in it answers the
// TypeScript SDK (a python sandbox created, used, forked, terminated), and `mitos-node` from the
// same image registers with a real kube-apiserver. Podman's store lives in this test's own
// directory; the containers and the image are removed by id.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@mitos/sdk';
import { freePort, skipUnlessAvailable, testEngineEnv } from '@mitos/testkit';
import { buildKubeBinaries, repoRoot, startKubeCluster } from '../testing/kube-cluster.js';
import { type BuiltImage, buildImage, imageUnavailable, Podman } from '../testing/podman.js';

const CACHE = process.env.MITOS_CACHE_DIR || '/var/cache/mitos';

/**
 * What the chart's node DaemonSet gives the container, for a test: privileged, the host's
 * network (loopback only here), the engine's state directory at the same path, the template
 * cache (so the python image is not built again) and the cgroup tree.
 */
function likeTheDaemonSet(stateDir: string, ...more: string[]): string[] {
  return [
    '--privileged',
    '--network',
    'host',
    '-v',
    `${stateDir}:${stateDir}`,
    '-v',
    `${CACHE}:/var/cache/mitos`,
    '-v',
    '/sys/fs/cgroup:/sys/fs/cgroup',
    ...more,
  ];
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the mitos container image', { timeout: 90 * 60_000 }, () => {
  const missing = imageUnavailable();
  let podman: Podman;
  let image: BuiltImage;
  let imageId: string;

  before(() => {
    if (missing) return;
    image = buildImage();
    podman = new Podman(mkdtempSync('/tmp/mitos-test-podman-'));
    imageId = podman.load(image.archive);
  });
  after(() => podman?.cleanup());

  // Only a non-root run may skip (as the real-cluster contract does); missing tools fail above.
  const guard = (t: { skip(msg: string): void }) => {
    if (missing) t.skip(skipUnlessAvailable('kube', missing) || missing);
    return Boolean(missing);
  };

  it('carries reproducible labels, the runtime packages and every mitos entry point', (t) => {
    if (guard(t)) return;
    const inspected = JSON.parse(podman.run(['image', 'inspect', imageId])) as [
      { Labels: Record<string, string>; Config?: { Labels?: Record<string, string> } },
    ];
    const labels = inspected[0].Labels ?? inspected[0].Config?.Labels ?? {};
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
    assert.equal(labels['org.opencontainers.image.revision'], head);
    const version = labels['org.opencontainers.image.version'];
    assert.equal(image.name, `localhost/mitos:${version}`);
    assert.match(labels['org.opencontainers.image.source'] ?? '', /^https:\/\//);
    const commitTime = spawnSync('git', ['log', '-1', '--format=%ct'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).stdout.trim();
    assert.equal(labels['org.opencontainers.image.created'], new Date(Number(commitTime) * 1000).toISOString());
    assert.equal(podman.run(['run', '--rm', imageId, '--version']).trim(), version);
    const tools = podman.run([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      imageId,
      '-c',
      'for c in mitos mitos-node mitos-controller node mkfs.btrfs nft debootstrap; do command -v $c; done; ls /usr/lib/mitos/node_modules/@mitos/agent/build',
    ]);
    for (const c of [
      'mitos-node',
      'mitos-controller',
      'mkfs.btrfs',
      'nft',
      'debootstrap',
      'mitos-agent',
      'mitos-guest',
    ]) {
      assert.match(tools, new RegExp(c), `${c} is in the image`);
    }
    // The parts that need no privilege (the controller, every client command) run as the
    // image's unprivileged user.
    assert.equal(podman.run(['run', '--rm', '--user', 'mitos', imageId, '--version']).trim(), version);
    const uid = podman.run(['run', '--rm', '--entrypoint', 'id', imageId, '-u', 'mitos']).trim();
    assert.equal(uid, '65532', 'the uid the chart runs the controller as');
  });

  it('serves the API; the TypeScript SDK creates a python sandbox, runs, forks and terminates', async (t) => {
    if (guard(t)) return;
    const env = testEngineEnv();
    const port = await freePort();
    let id: string | undefined;
    try {
      id = podman.start([
        ...likeTheDaemonSet(env.stateDir, '-e', `MITOS_CGROUP_PARENT=${env.cgroupParent}`),
        imageId,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--state-dir',
        env.stateDir,
        '--warm-pool',
        '0',
      ]);
      const baseUrl = `http://127.0.0.1:${port}`;
      const cid = id;
      await until(
        'the server in the container',
        async () => (await fetch(`${baseUrl}/v1/health`).catch(() => undefined))?.ok || undefined,
        180_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${podman.logs(cid)}`);
      });
      const sb = await create('python', { baseUrl, apiKey: '' });
      try {
        const r = await sb.exec("python3 -c 'import sys; print(sys.version_info[0] * 14)'");
        assert.equal(r.stdout, '42\n');
        await sb.exec('echo parent > /tmp/mark');
        const [child] = await sb.fork(1);
        assert.ok(child);
        try {
          assert.equal((await child.exec('cat /tmp/mark')).stdout, 'parent\n');
          await child.exec('echo child > /tmp/mark');
          assert.equal((await sb.exec('cat /tmp/mark')).stdout, 'parent\n', 'the fork has its own filesystem');
        } finally {
          await child.terminate();
        }
      } finally {
        await sb.terminate();
      }
      const gone = await fetch(`${baseUrl}/v1/sandboxes/${sb.id}`);
      assert.equal(gone.status, 404);
    } finally {
      if (id) podman.stop(id);
      await env.cleanup();
    }
  });

  it('the node daemon starts from the same image and registers with the test apiserver', async (t) => {
    if (guard(t)) return;
    const built = buildKubeBinaries();
    if ('skip' in built) return t.skip(skipUnlessAvailable('kube', built.skip) || built.skip);
    const cluster = await startKubeCluster([
      join(repoRoot, 'deploy/crds'),
      join(repoRoot, 'deploy/kustomize/base/rbac.yaml'),
    ]);
    const env = testEngineEnv();
    let id: string | undefined;
    try {
      const keyFile = join(cluster.dir, 'node-key');
      writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
      const nodeName = `image-node-${randomBytes(3).toString('hex')}`;
      id = podman.start([
        ...likeTheDaemonSet(env.stateDir, '-v', `${cluster.dir}:${cluster.dir}:ro`),
        '--entrypoint',
        'mitos-node',
        imageId,
        `--node-name=${nodeName}`,
        '--namespace=mitos-system',
        `--kubeconfig=${cluster.nodeKubeconfig}`,
        `--node-key-file=${keyFile}`,
        `--state-dir=${env.stateDir}`,
        `--cgroup-parent=${env.cgroupParent}`,
        '--listen-host=127.0.0.1',
        '--advertise-host=127.0.0.1',
        '--sandbox-port=0',
        '--control-port=0',
        '--heartbeat-ms=2000',
      ]);
      const kubectl = join(cluster.bin, 'kubectl');
      const cid = id;
      const lease = await until(
        'the node Lease',
        () => {
          const r = spawnSync(
            kubectl,
            ['--kubeconfig', cluster.kubeconfig, '-n', 'mitos-system', 'get', 'lease', '-o', 'json'],
            { encoding: 'utf8' },
          );
          const items = (
            JSON.parse(r.stdout || '{"items":[]}') as {
              items: {
                metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
              }[];
            }
          ).items;
          return items.find((l) => JSON.stringify(l.metadata).includes(nodeName));
        },
        180_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${podman.logs(cid)}`);
      });
      assert.ok(lease, 'the daemon in the image registered its Lease');
      assert.match(podman.logs(id), /node daemon registered/);
    } finally {
      if (id) podman.stop(id);
      await env.cleanup();
      await cluster.stop();
    }
  });
});
