import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { shellOf, testEngineEnv, until } from '@mitos/testkit';
import { API_VERSION } from '../api/group.js';
import { templateSource } from '../controller/template-source.js';
import { SandboxLedger } from './ledger.js';
import { NodeSandboxes } from './node-sandboxes.js';

// A node daemon's side of a SandboxTemplate with buildSteps, on the real linux engine: the node
// builds the spec the controller derives (steps in a build sandbox), and a claim's sandbox runs it.
describe('node: SandboxTemplate buildSteps built on the node (linux engine)', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  let engine: Engine;
  let node: NodeSandboxes;
  const sh = shellOf(() => engine, 30_000);

  before(async () => {
    engine = await env.open();
    await engine.ensureTemplate({ id: 'python' });
    node = new NodeSandboxes(engine, SandboxLedger.open(undefined), 4);
  });
  after(() => env.cleanup());

  test('a claim on a spec template gets a sandbox with the steps applied, its env, workdir and start command', async () => {
    const source = templateSource({
      apiVersion: API_VERSION,
      kind: 'SandboxTemplate',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        image: 'python',
        buildSteps: [
          { type: 'workdir', workdir: '/srv' },
          { type: 'env', envName: 'GREETING', envValue: 'from-a-step' },
          { type: 'run', run: 'echo built-on-the-node > /srv/index.html' },
        ],
        command: ['python3', '-m', 'http.server', '8099', '--bind', '127.0.0.1'],
        env: [{ name: 'MODE', value: 'cluster' }],
      },
    });
    assert.ok(source.spec);
    assert.equal(node.prepareTemplate(source.key, { spec: source.spec }), 'building');
    await until(() => node.prepareTemplate(source.key) !== 'building', 300_000, 'the template build');
    assert.equal(node.prepareTemplate(source.key), 'ready');
    const { sandboxId } = await node.acquire({
      namespace: 'default',
      pool: 'web',
      claim: 'c1',
      image: source.key,
      token: 'a'.repeat(64),
    });
    const r = await sh(sandboxId, 'pwd; echo $GREETING $MODE; cat index.html');
    assert.equal(r.out, '/srv\nfrom-a-step cluster\nbuilt-on-the-node\n', r.err);
    // The start command runs as a tracked process of the sandbox.
    const procs = await engine.listProcesses(sandboxId);
    assert.ok(
      procs.some((p) => p.command.includes('http.server')),
      JSON.stringify(procs.map((p) => p.command)),
    );
  });

  test('a failing step leaves the template failed, with the step named, and no template on the engine', async () => {
    const source = templateSource({
      apiVersion: API_VERSION,
      kind: 'SandboxTemplate',
      metadata: { name: 'broken', namespace: 'default' },
      spec: { image: 'python', buildSteps: [{ type: 'run', run: 'echo about-to-fail; exit 3' }] },
    });
    node.prepareTemplate(source.key, { spec: source.spec as NonNullable<typeof source.spec> });
    await until(() => node.prepareTemplate(source.key) !== 'building', 300_000, 'the failing build');
    await assert.rejects(
      node.acquire({ namespace: 'default', pool: 'broken', claim: 'c2', image: source.key, token: 'b'.repeat(64) }),
      (err: unknown) =>
        err instanceof MitosError &&
        err.code === 'template_not_ready' &&
        /template for spec-[0-9a-f]+ is failed: step 1\/1 \(run\) exited with 3/.test(err.detail),
    );
    assert.equal(engine.getTemplate(source.key), undefined);
  });
});
