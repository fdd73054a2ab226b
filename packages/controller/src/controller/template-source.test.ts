import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IMAGES } from '@mitos/engine';
import { API_VERSION } from '../api/group.js';
import type { SandboxTemplate } from '../api/v1alpha1/index.js';
import { BUILT_IN_IMAGES } from '../util/built-ins.js';
import { TemplateRefusal, templateSource } from './template-source.js';

const template = (spec: SandboxTemplate['spec']): SandboxTemplate => ({
  apiVersion: API_VERSION,
  kind: 'SandboxTemplate',
  metadata: { name: 't', namespace: 'default' },
  spec,
});

describe('templateSource (what a node prepares for a SandboxTemplate)', () => {
  it('a built-in with no recipe is prepared by name, as before', () => {
    assert.deepEqual(templateSource(template({ image: 'python' })), { key: 'python' });
  });

  it('the built-ins are exactly the engine catalogue, layered images included', () => {
    assert.deepEqual([...BUILT_IN_IMAGES].sort(), Object.keys(IMAGES).sort());
    assert.deepEqual(templateSource(template({ image: 'code-interpreter' })), { key: 'code-interpreter' });
    assert.deepEqual(templateSource(template({ image: 'e2b-base' })), { key: 'e2b-base' });
  });

  it('buildSteps, command, env and resources become the spec the node builds, keyed by its digest', () => {
    // The CRD's spec in the seed's shape is already the engine's: it passes through unchanged.
    const spec: SandboxTemplate['spec'] = {
      image: 'python',
      buildSteps: [
        { type: 'workdir', workdir: '/app' },
        { type: 'env', envName: 'PORT', envValue: '8080' },
        { type: 'run', run: 'echo hi > /app/x' },
      ],
      command: ['python3', '-m', 'http.server', '8080'],
      env: [{ name: 'MODE', value: 'fast' }],
      resources: { cpu: '2', memory: '1Gi' },
    };
    const source = templateSource(template(structuredClone(spec)));
    assert.match(source.key, /^spec-[0-9a-f]{20}$/);
    assert.deepEqual(source.spec, spec);
    // An edited step is another template (a pool never mixes old and new sandboxes).
    const edited = templateSource(template({ image: 'python', buildSteps: [{ type: 'run', run: 'echo other' }] }));
    assert.notEqual(edited.key, source.key);
    assert.equal(
      templateSource(template({ image: 'python', buildSteps: [{ type: 'run', run: 'echo other' }] })).key,
      edited.key,
    );
  });

  it('an OCI image is built (pulled) on the node; legacy init becomes run steps', () => {
    const source = templateSource(template({ image: 'registry.example/app:1', init: ['apt-get update', 'make'] }));
    assert.deepEqual(source.spec, {
      image: 'registry.example/app:1',
      buildSteps: [
        { type: 'run', run: 'apt-get update' },
        { type: 'run', run: 'make' },
      ],
    });
  });

  it('networkPolicy becomes the posture of the build and of the sandboxes', () => {
    const source = templateSource(
      template({ image: 'python', networkPolicy: { egress: 'deny', allowCidrs: ['10.1.2.3/32:443'] } }),
    );
    assert.deepEqual(source.network, { egress: 'deny', allow_cidrs: ['10.1.2.3/32:443'] });
  });

  it('refuses what a cluster cannot build, naming it: copy steps, env valueFrom, a bad posture', () => {
    assert.throws(
      () => templateSource(template({ image: 'python', buildSteps: [{ type: 'copy', source: 'app', dest: '/app' }] })),
      (err: unknown) =>
        err instanceof TemplateRefusal && /buildSteps\[0\].*build context.*template push/.test(err.message),
    );
    assert.throws(
      () =>
        templateSource(
          template({ image: 'python', env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }),
        ),
      (err: unknown) => err instanceof TemplateRefusal && /env K: valueFrom/.test(err.message),
    );
    assert.throws(
      () => templateSource(template({ image: 'python', networkPolicy: { egress: 'sometimes' } })),
      (err: unknown) => err instanceof TemplateRefusal && /networkPolicy\.egress/.test(err.message),
    );
  });
});
