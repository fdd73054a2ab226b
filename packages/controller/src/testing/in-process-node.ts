/**
 * A NodeApi that calls a NodeSandboxes directly, translating its refusals into the errors the
 * HTTP client would raise, so reconcilers can be unit-tested against the real node logic.
 * @module
 */
import { MitosError } from '@mitos/protocol';
import { type NodeApi, NodeCallError } from '../controller/node-client.js';
import type { NodeSandboxes } from '../node/node-sandboxes.js';

export function inProcessNodeApi(node: string, sandboxes: NodeSandboxes): NodeApi {
  const call = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof MitosError) throw new NodeCallError(node, err.status, err.code, err.detail || err.message);
      throw err;
    }
  };
  return {
    capacity: () => call(() => ({ node, ...sandboxes.capacity() })),
    sandboxes: () => call(() => sandboxes.records()),
    prepareTemplate: (image, recipe) => call(() => sandboxes.prepareTemplate(image, recipe)),
    templateReport: (image) => call(() => sandboxes.templateReport(image)),
    ...(sandboxes.transfer && {
      exportTemplate: (image: string) =>
        call(() => (sandboxes.transfer as NonNullable<typeof sandboxes.transfer>).export(image)),
    }),
    addWarm: (ns, pool, image, count) => call(() => sandboxes.addWarm(ns, pool, image, count)),
    removeWarm: (ns, pool, count) => call(() => sandboxes.removeWarm(ns, pool, count)),
    acquire: (req) => call(() => sandboxes.acquire(req)),
    fork: (req) => call(() => sandboxes.fork(req)),
    terminate: (id, namespace) => call(() => sandboxes.terminate(id, namespace)),
    hydrateWorkspace: (id, req) => call(() => sandboxes.workspaces.hydrate(id, req)),
    captureWorkspace: (id, req) => call(() => sandboxes.workspaces.capture(id, req)),
  };
}
