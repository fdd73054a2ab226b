/**
 * SandboxFork from the SDK side (crd-v1.md 9.5): create the fork and poll until enough children
 * are Ready. Each child is a SandboxClaim the controller made, so everything after that
 * (terminate, info, fromName) goes through the claim like for any sandbox.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { CallOptions } from '../types.js';
import type { ClusterApi } from './api.js';
import { clusterError, readyTimeout } from './errors.js';
import { pollUntil } from './poll.js';

const DEFAULT_FORK_TIMEOUT_MS = 30_000;

export interface ForkEntry {
  name: string;
  sandboxID?: string;
  endpoint: string;
  node: string;
  phase: string;
}

interface ForkStatus {
  forks?: ForkEntry[];
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}

/** Creates `<source>-fork-<6 hex>` with `n` replicas and waits for `n` Ready children. */
export async function createFork(
  api: ClusterApi,
  source: string,
  n: number,
  options: CallOptions & { timeoutMs?: number; pauseSource?: boolean },
): Promise<ForkEntry[]> {
  const forkName = `${source}-fork-${randomBytes(3).toString('hex')}`;
  await api.create('sandboxforks', {
    apiVersion: 'mitos.run/v1alpha1',
    kind: 'SandboxFork',
    metadata: { name: forkName, namespace: api.namespace },
    spec: { sourceRef: { name: source }, replicas: n, pauseSource: options.pauseSource ?? false },
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_FORK_TIMEOUT_MS;
  // Why it is not Ready (e.g. SourceNodeFull: forks are placed on the source's node only).
  let waitingFor: string | undefined;
  const entries = await pollUntil(
    async () => {
      const fork = await api.get('sandboxforks', forkName);
      const status = (fork?.status ?? {}) as ForkStatus;
      const rejected = status.conditions?.find((c) => c.type === 'Rejected' && c.status === 'True');
      if (rejected) {
        throw clusterError(
          'fork_rejected',
          `fork ${forkName} was rejected`,
          'see the SandboxFork conditions',
          { fork: forkName },
          rejected.message,
        );
      }
      const condition = status.conditions?.find((c) => c.type === 'Ready' && c.status !== 'True');
      waitingFor = condition?.reason ? `${condition.reason}: ${condition.message ?? ''}` : undefined;
      const ready = (status.forks ?? []).filter((f) => f.phase === 'Ready');
      return ready.length >= n ? ready : undefined;
    },
    {
      timeoutMs,
      signal: options.signal,
      onTimeout: () => readyTimeout('SandboxFork', forkName, timeoutMs, waitingFor),
    },
  );
  return entries;
}
