import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TemplateRecipe, TemplateReport, TemplateState } from '../node/node-sandboxes.js';
import type { ExportState } from '../node/template-transfer.js';
import { type ControllerContext, silentLogger } from './context.js';
import { type NodeApi, NodeCallError } from './node-client.js';
import type { NodeView } from './nodes.js';
import { prepareTemplateOn, templateSources } from './template-distribution.js';

const IMAGE = 'spec-0123456789abcdef0123';
const RECIPE: TemplateRecipe = { spec: { image: 'base' } };
const DIGEST = `sha256:${'d'.repeat(64)}`;

/** A node as the controller sees it: what it reports, and what it was asked to do. */
interface ScriptedNode {
  view: NodeView;
  report: TemplateReport;
  /** The answer to a prepare; the recipe it was sent is recorded. */
  answer: TemplateState;
  prepared: Array<TemplateRecipe | undefined>;
  /** How this node exports: a state, or a refusal. */
  exports: ExportState | NodeCallError;
}

function node(name: string, ready = false): ScriptedNode {
  return {
    view: {
      name,
      labels: {},
      sandboxEndpoint: `${name}:9091`,
      controlEndpoint: `${name}:9090`,
      capacity: { maxSandboxes: 8, activeSandboxes: 0, templates: ready ? { [IMAGE]: 'ready' } : {} },
      healthy: true,
    },
    report: { state: ready ? 'ready' : 'absent', failures: [] },
    answer: 'building',
    prepared: [],
    exports: { state: 'ready', digest: DIGEST },
  };
}

function contextOf(nodes: ScriptedNode[]): ControllerContext {
  const api = (n: ScriptedNode): NodeApi =>
    ({
      templateReport: async () => n.report,
      prepareTemplate: async (_image: string, recipe?: TemplateRecipe) => {
        n.prepared.push(recipe);
        return n.answer;
      },
      exportTemplate: async () => {
        if (n.exports instanceof NodeCallError) throw n.exports;
        return n.exports;
      },
    }) as unknown as NodeApi;
  return {
    nodeApi: (view: NodeView) => api(nodes.find((n) => n.view.name === view.name) as ScriptedNode),
    log: silentLogger,
  } as unknown as ControllerContext;
}

describe('template distribution: where a node gets a spec template from', () => {
  it('fetches from the first holder that exported it, and says so', async () => {
    const [a, b, target] = [node('a', true), node('b', true), node('t')];
    const prep = await prepareTemplateOn(contextOf([a, b, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view, b.view],
      mayBuild: true,
    });
    assert.equal(prep.reason, 'TemplateFetching');
    assert.equal(prep.message, `fetching ${IMAGE} on t from a`);
    assert.deepEqual(target.prepared, [{ ...RECIPE, fetch: { endpoint: 'a:9090', digest: DIGEST } }]);
  });

  it('a holder that failed this node is passed over for the next, with the reason kept', async () => {
    const [a, b, target] = [node('a', true), node('b', true), node('t')];
    target.report = { state: 'failed', via: 'a:9090', failures: [{ via: 'a:9090', error: 'blob X has digest Y' }] };
    const prep = await prepareTemplateOn(contextOf([a, b, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view, b.view],
      mayBuild: false,
    });
    assert.equal(prep.reason, 'TemplateFetching');
    assert.equal(prep.message, `fetching ${IMAGE} on t from b (after a: blob X has digest Y)`);
    assert.equal(target.prepared[0]?.fetch?.endpoint, 'b:9090');
  });

  it('an unreachable holder is passed over; when none serves it the node builds it, saying why', async () => {
    const [a, b, target] = [node('a', true), node('b', true), node('t')];
    a.exports = new NodeCallError('a', 0, 'unavailable', 'connect ECONNREFUSED');
    target.report = { state: 'failed', via: 'b:9090', failures: [{ via: 'b:9090', error: 'cannot reach b' }] };
    const prep = await prepareTemplateOn(contextOf([a, b, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view, b.view],
      mayBuild: false,
    });
    assert.equal(prep.reason, 'TemplateBuildingLocally');
    assert.match(prep.message, /^building spec-\w+ on t: no holder served it intact \(b: cannot reach b; a: node a: /);
    assert.deepEqual(target.prepared, [RECIPE]);
    assert.equal(prep.building, true);
  });

  it('fails (never waits forever) once every holder and the local build failed', async () => {
    const [a, target] = [node('a', true), node('t')];
    target.report = {
      state: 'failed',
      via: 'build',
      failures: [
        { via: 'a:9090', error: 'refused' },
        { via: 'build', error: 'step 1/1 (run) exited with 3' },
      ],
    };
    const prep = await prepareTemplateOn(contextOf([a, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view],
      mayBuild: true,
    });
    assert.equal(prep.state, 'failed');
    assert.equal(prep.reason, 'TemplateFailed');
    assert.match(prep.message, /a: refused; a build on t: step 1\/1 \(run\) exited with 3/);
    assert.deepEqual(target.prepared, []);
  });

  it('waits (no second build) while another node builds it; reports fetch progress in MiB', async () => {
    const [a, target] = [node('a'), node('t')];
    const waiting = await prepareTemplateOn(contextOf([a, target]), target.view, IMAGE, RECIPE, {
      sources: [],
      mayBuild: false,
    });
    assert.equal(waiting.reason, 'TemplateBuilding');
    assert.deepEqual(target.prepared, []);

    target.report = {
      state: 'building',
      via: 'a:9090',
      progress: { bytes: 3 * 1024 ** 2, totalBytes: 12 * 1024 ** 2 },
      failures: [],
    };
    const fetching = await prepareTemplateOn(contextOf([a, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view],
      mayBuild: false,
    });
    assert.equal(fetching.message, `fetching ${IMAGE} on t from a: 3.0 of 12.0 MiB`);
  });

  it('a holder still building the template is waited for, not passed over for a second build', async () => {
    const [a, b, target] = [node('a'), node('b'), node('t')];
    a.exports = new NodeCallError('a', 409, 'template_not_ready', 'template for spec-x is not ready on this node');
    a.report = { state: 'building', via: 'build', failures: [] };
    const waiting = await prepareTemplateOn(contextOf([a, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view],
      mayBuild: true,
    });
    assert.equal(waiting.reason, 'TemplateFetching');
    assert.equal(waiting.message, `waiting for a to finish building ${IMAGE} before t fetches it`);
    assert.deepEqual(target.prepared, []);

    // A listed holder that has nothing and builds nothing is passed over as before.
    b.exports = new NodeCallError('b', 409, 'template_not_ready', 'template for spec-x is not ready on this node');
    const passed = await prepareTemplateOn(contextOf([b, target]), target.view, IMAGE, RECIPE, {
      sources: [b.view],
      mayBuild: true,
    });
    assert.equal(passed.reason, 'TemplateBuildingLocally');
    assert.deepEqual(target.prepared, [RECIPE]);
  });

  it('an export still under way is waited for; sources list the ready holders first', async () => {
    const [a, b, target] = [node('a', true), node('b'), node('t')];
    a.exports = { state: 'exporting' };
    const prep = await prepareTemplateOn(contextOf([a, target]), target.view, IMAGE, RECIPE, {
      sources: [a.view],
      mayBuild: true,
    });
    assert.equal(prep.message, `waiting for a to export ${IMAGE} for t`);
    assert.deepEqual(target.prepared, []);
    const other = node('c', true);
    assert.deepEqual(
      templateSources([other.view, a.view, b.view, target.view], IMAGE, ['b']).map((n) => n.name),
      ['b', 'a', 'c'],
    );
  });

  it('a built-in: prepared from the node’s own image cache when it has the tree, else fetched, built last', async () => {
    const [a, cached, bare] = [node('a', true), node('cached'), node('bare')];
    cached.report = { state: 'absent', cached: true, failures: [] };
    const ctx = contextOf([a, cached, bare]);
    const fromCache = await prepareTemplateOn(ctx, cached.view, 'python', {}, { sources: [a.view], mayBuild: true });
    assert.equal(fromCache.message, 'preparing python on cached from its image cache');
    assert.deepEqual(cached.prepared, [{}], 'no fetch: the tree is already there');
    const fetched = await prepareTemplateOn(ctx, bare.view, 'python', {}, { sources: [a.view], mayBuild: true });
    assert.equal(fetched.reason, 'TemplateFetching');
    assert.deepEqual(bare.prepared, [{ fetch: { endpoint: 'a:9090', digest: DIGEST } }]);
    // No holder at all, and another node preparing it: the bare node waits rather than build it too.
    const waits = await prepareTemplateOn(ctx, bare.view, 'python', {}, { sources: [], mayBuild: false });
    assert.equal(waits.reason, 'TemplateBuilding');
    assert.equal(bare.prepared.length, 1);
  });
});
