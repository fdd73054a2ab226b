/**
 * SandboxFork from the SDK side (crd-v1.md 9.5): create the fork, poll until enough children
 * are Ready, and release single children (they have no claim of their own, so a child is
 * ended by naming it in the fork's `mitos.run/released` annotation).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { CallOptions } from '../types.js';
import type { ClusterApi } from './api.js';
import { clusterError, readyTimeout } from './errors.js';
import { pollUntil } from './poll.js';

const RELEASED_ANNOTATION = 'mitos.run/released';
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
  conditions?: Array<{ type: string; status: string; message?: string }>;
}

/** Creates `<source>-fork-<6 hex>` with `n` replicas and waits for `n` Ready children. */
export async function createFork(
  api: ClusterApi,
  source: string,
  n: number,
  options: CallOptions & { timeoutMs?: number; pauseSource?: boolean },
): Promise<{ forkName: string; entries: ForkEntry[] }> {
  const forkName = `${source}-fork-${randomBytes(3).toString('hex')}`;
  await api.create('sandboxforks', {
    apiVersion: 'mitos.run/v1alpha1',
    kind: 'SandboxFork',
    metadata: { name: forkName, namespace: api.namespace },
    spec: { sourceRef: { name: source }, replicas: n, pauseSource: options.pauseSource ?? false },
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_FORK_TIMEOUT_MS;
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
      const ready = (status.forks ?? []).filter((f) => f.phase === 'Ready');
      return ready.length >= n ? ready : undefined;
    },
    { timeoutMs, signal: options.signal, onTimeout: () => readyTimeout('SandboxFork', forkName, timeoutMs) },
  );
  return { forkName, entries };
}

/** Adds `child` to the fork's released list, retrying when another release raced us. */
export async function releaseForkChild(api: ClusterApi, fork: string, child: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await api.get('sandboxforks', fork);
    if (!current) return;
    const released = new Set(
      (current.metadata.annotations?.[RELEASED_ANNOTATION] ?? '').split(',').filter((s) => s !== ''),
    );
    if (released.has(child)) return;
    released.add(child);
    try {
      await api.patch('sandboxforks', fork, {
        metadata: {
          resourceVersion: current.metadata.resourceVersion,
          annotations: { [RELEASED_ANNOTATION]: [...released].sort().join(',') },
        },
      });
      return;
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }
  throw clusterError('conflict', `could not release ${child} from fork ${fork}`, 'retry terminate()', { fork, child });
}
