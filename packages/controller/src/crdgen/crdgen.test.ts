import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GROUP, VERSION } from '../api/group.js';
import { KIND_SOURCES } from '../api/v1alpha1/index.js';
import { toCrd } from './crd.js';
import { renderCrdFiles } from './main.js';
import { readKinds } from './read-types.js';
import type { JsonSchema } from './schema.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const repoRoot = resolve(packageRoot, '../..');
const models = readKinds(KIND_SOURCES.map((f) => join(packageRoot, 'src/api/v1alpha1', f)));
const byKind = new Map(models.map((m) => [m.kind, m]));

/** Every node must say what it is, or be one of the two allowed escapes (structural schema rule). */
function assertStructural(schema: JsonSchema, path: string): void {
  const escaped = schema['x-kubernetes-int-or-string'] || schema['x-kubernetes-preserve-unknown-fields'];
  assert.ok(schema.type || escaped, `${path} has no type`);
  for (const [k, v] of Object.entries(schema.properties ?? {})) assertStructural(v, `${path}.${k}`);
  if (schema.items) assertStructural(schema.items, `${path}[]`);
  if (schema.additionalProperties) assertStructural(schema.additionalProperties, `${path}{}`);
}

describe('CRD generation', () => {
  it('deploy/crds and the chart carry exactly what the types generate (run gen:crds if this fails)', () => {
    for (const [rel, text] of renderCrdFiles()) {
      assert.equal(readFileSync(join(repoRoot, rel), 'utf8'), text, rel);
    }
  });

  it('generates the kinds of crd-v1.md with structural schemas', () => {
    assert.deepEqual(
      models.map((m) => m.kind),
      ['SandboxTemplate', 'SandboxPool', 'SandboxClaim', 'SandboxFork', 'Workspace', 'WorkspaceRevision'],
    );
    for (const m of models) assertStructural(m.schema, m.kind);
  });

  it('turns optionality, unions, aliases and tags into schema', () => {
    const pool = byKind.get('SandboxPool')!.schema.properties!.spec!;
    assert.deepEqual(pool.required, ['templateRef', 'replicas']);
    assert.deepEqual(pool.properties!.replicas, {
      type: 'integer',
      format: 'int32',
      description: 'Warm sandboxes to keep when `autoscale` is unset; also the number of nodes to prepare.',
    });
    assert.deepEqual(pool.properties!.drainPolicy, { type: 'string', enum: ['Kill', 'Checkpoint'], default: 'Kill' });
    const autoscale = pool.properties!.autoscale!;
    assert.deepEqual(autoscale.required, ['maxWarm']);
    assert.equal(autoscale.properties!.targetSpare!.default, 2);
    assert.equal(autoscale.properties!.scaleDownCooldownSeconds!.default, 300);
    const template = byKind.get('SandboxTemplate')!.schema.properties!.spec!;
    assert.deepEqual(template.properties!.resources!.properties!.cpu, { 'x-kubernetes-int-or-string': true });
    const claimStatus = byKind.get('SandboxClaim')!.schema.properties!.status!;
    assert.equal(claimStatus.properties!.startedAt!.format, 'date-time');
    assert.equal(claimStatus.properties!.forkTimeMicros!.format, 'int64');
    const condition = claimStatus.properties!.conditions!.items!;
    assert.deepEqual(condition.required, ['type', 'status', 'reason', 'message', 'lastTransitionTime']);
  });

  it('declares printer columns, the status subresource, and scale on pools', () => {
    const crd = (kind: string) => toCrd(byKind.get(kind)!, { group: GROUP, version: VERSION });
    const claim = crd('SandboxClaim').spec.versions[0]!;
    assert.deepEqual(
      claim.additionalPrinterColumns.map((c) => c.name),
      ['Status', 'Endpoint', 'Node', 'Age'],
    );
    assert.deepEqual(claim.subresources, { status: {} });
    const pool = crd('SandboxPool').spec.versions[0]!;
    assert.deepEqual(pool.subresources.scale, {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.readySnapshots',
    });
    assert.equal(crd('SandboxFork').metadata.name, 'sandboxforks.mitos.run');
    assert.equal(crd('SandboxFork').spec.names.listKind, 'SandboxForkList');
  });
});
