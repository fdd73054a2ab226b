/**
 * How a node daemon announces itself: one coordination.k8s.io Lease per node in the
 * controller's namespace, renewed on a timer. Labels carry the node's name and its selection
 * labels (pools pick nodes by label, since custom resources have no field selectors on 1.20);
 * annotations carry its endpoints and capacity. A lease that stops being renewed marks the
 * node unhealthy.
 * @module
 */
import {
  ANNOTATION_NODE_CAPACITY,
  ANNOTATION_NODE_CONTROL_ENDPOINT,
  ANNOTATION_NODE_SANDBOX_ENDPOINT,
  COMPONENT_NODE,
  LABEL_COMPONENT,
  LABEL_NODE,
} from '../api/group.js';
import type { Lease } from '../api/meta.js';
import { isConflict, type KubeClient } from '../kube/client.js';
import { microTime } from '../kube/micro-time.js';
import { LEASES } from '../kube/resources.js';
import { sleep } from '../util/sleep.js';
import type { NodeCapacity } from './node-sandboxes.js';

export const NODE_LEASE_SECONDS = 40;

export interface RegistrationOptions {
  client: KubeClient;
  namespace: string;
  nodeName: string;
  /** Selection labels (e.g. `mitos.run/pool-class=gpu`). */
  labels: Record<string, string>;
  /** Bare host:port of the sandbox API. */
  sandboxEndpoint: string;
  /** Bare host:port of the control API. */
  controlEndpoint: string;
  capacity: () => NodeCapacity;
  /** Default 10 s. */
  intervalMs?: number;
  onError?: (err: unknown) => void;
}

export function nodeLeaseName(nodeName: string): string {
  return `mitos-node-${nodeName}`;
}

export class NodeRegistration {
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(private readonly o: RegistrationOptions) {}

  /** Registers once (so callers know it worked), then renews in the background. */
  async start(): Promise<void> {
    await this.renew();
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await sleep(this.o.intervalMs ?? 10_000, signal);
      if (signal.aborted) return;
      await this.renew().catch((err: unknown) => this.o.onError?.(err));
    }
  }

  async renew(): Promise<void> {
    const { client, namespace, nodeName } = this.o;
    const name = nodeLeaseName(nodeName);
    const desired: Lease = {
      metadata: {
        name,
        namespace,
        labels: { ...this.o.labels, [LABEL_COMPONENT]: COMPONENT_NODE, [LABEL_NODE]: nodeName },
        annotations: {
          [ANNOTATION_NODE_SANDBOX_ENDPOINT]: this.o.sandboxEndpoint,
          [ANNOTATION_NODE_CONTROL_ENDPOINT]: this.o.controlEndpoint,
          [ANNOTATION_NODE_CAPACITY]: JSON.stringify(this.o.capacity()),
        },
      },
      spec: { holderIdentity: nodeName, leaseDurationSeconds: NODE_LEASE_SECONDS, renewTime: microTime(new Date()) },
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await client.get<Lease>(LEASES, namespace, name);
      try {
        if (!current) {
          await client.create(LEASES, { ...desired, spec: { ...desired.spec, acquireTime: desired.spec?.renewTime } });
        } else {
          await client.update(LEASES, {
            ...current,
            metadata: {
              ...current.metadata,
              labels: desired.metadata.labels,
              annotations: desired.metadata.annotations,
            },
            spec: { ...current.spec, ...desired.spec },
          });
        }
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }
}
