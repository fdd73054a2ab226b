/**
 * A controller context over fakes: FakeKube for the API, and per node a NodeSandboxes on a
 * scripted engine reached in-process. A manual clock, and tokens that are easy to tell apart.
 * @module
 */
import { API_VERSION } from '../api/group.js';
import type { SandboxClaim, SandboxPool, SandboxTemplate } from '../api/v1alpha1/index.js';
import { type ControllerContext, silentLogger } from '../controller/context.js';
import type { NodeView } from '../controller/nodes.js';
import { SANDBOX_CLAIMS, SANDBOX_POOLS, SANDBOX_TEMPLATES } from '../kube/resources.js';
import { SandboxLedger } from '../node/ledger.js';
import { NodeSandboxes } from '../node/node-sandboxes.js';
import { FakeKube } from './fake-kube.js';
import { inProcessNodeApi } from './in-process-node.js';
import { createScriptedEngine, type ScriptedEngine } from './scripted-engine.js';

export interface FakeNode {
  name: string;
  labels: Record<string, string>;
  healthy: boolean;
  engine: ScriptedEngine;
  sandboxes: NodeSandboxes;
}

export class ReconcileFixture {
  readonly kube = new FakeKube();
  readonly nodes = new Map<string, FakeNode>();
  // Starts at the real time because FakeKube stamps creationTimestamp with it.
  clock = Date.now();
  #tokens = 0;
  readonly ctx: ControllerContext;

  constructor(options: { maxPendingMs?: number } = {}) {
    this.ctx = {
      kube: this.kube,
      log: silentLogger,
      now: () => this.clock,
      mintToken: () => (++this.#tokens).toString(16).padStart(64, '0'),
      nodes: () => [...this.nodes.values()].map((n) => this.view(n)),
      nodeApi: (view: NodeView) => inProcessNodeApi(view.name, this.#node(view.name).sandboxes),
      ...(options.maxPendingMs !== undefined && { maxPendingMs: options.maxPendingMs }),
    };
  }

  addNode(name: string, labels: Record<string, string> = {}, maxSandboxes = 16): FakeNode {
    const engine = createScriptedEngine();
    const node: FakeNode = {
      name,
      labels,
      healthy: true,
      engine,
      sandboxes: new NodeSandboxes(engine, SandboxLedger.open(undefined), maxSandboxes),
    };
    this.nodes.set(name, node);
    return node;
  }

  view(node: FakeNode): NodeView {
    return {
      name: node.name,
      labels: node.labels,
      sandboxEndpoint: `10.0.0.${[...this.nodes.keys()].indexOf(node.name) + 1}:9091`,
      controlEndpoint: `10.0.0.${[...this.nodes.keys()].indexOf(node.name) + 1}:9090`,
      capacity: node.sandboxes.capacity(),
      healthy: node.healthy,
    };
  }

  async createPool(
    name: string,
    spec: Partial<SandboxPool['spec']> & { image?: string; template?: Partial<SandboxTemplate['spec']> } = {},
    namespace = 'default',
  ): Promise<void> {
    const { image = 'python', template, ...poolSpec } = spec;
    await this.kube.create<SandboxTemplate>(SANDBOX_TEMPLATES, {
      apiVersion: API_VERSION,
      kind: 'SandboxTemplate',
      metadata: { name, namespace },
      spec: { image, ...template },
    });
    await this.kube.create<SandboxPool>(SANDBOX_POOLS, {
      apiVersion: API_VERSION,
      kind: 'SandboxPool',
      metadata: { name, namespace },
      spec: { templateRef: { name }, replicas: 1, ...poolSpec },
    });
  }

  async createClaim(
    name: string,
    pool: string,
    spec: Partial<SandboxClaim['spec']> = {},
    namespace = 'default',
  ): Promise<void> {
    await this.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
      apiVersion: API_VERSION,
      kind: 'SandboxClaim',
      metadata: { name, namespace },
      spec: { poolRef: { name: pool }, ...spec },
    });
  }

  async claim(name: string, namespace = 'default'): Promise<SandboxClaim | undefined> {
    return this.kube.get<SandboxClaim>(SANDBOX_CLAIMS, namespace, name);
  }

  /** Templates build instantly on the scripted engine, but the node reports them on the next call. */
  async prepareTemplates(image = 'python'): Promise<void> {
    for (const node of this.nodes.values()) {
      node.sandboxes.prepareTemplate(image);
      await new Promise((r) => setImmediate(r));
    }
  }

  #node(name: string): FakeNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no fake node ${name}`);
    return node;
  }
}
