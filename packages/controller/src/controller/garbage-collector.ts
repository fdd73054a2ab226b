/**
 * The periodic sweep (crd-v1.md 10.5): sandboxes on a node that no live object accounts for
 * (for a fork's sandbox: its child claim) are terminated once they are old enough not to be
 * mid-creation, and Ready claims whose sandbox has vanished from their node are failed rather
 * than left pointing at nothing.
 * Caches only nominate; every verdict is confirmed with a fresh GET.
 * @module
 */
import { LABEL_FORK } from '../api/group.js';
import type { SandboxClaim, SandboxFork, SandboxPool } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SANDBOX_POOLS } from '../kube/resources.js';
import type { SandboxOwner } from '../node/ledger.js';
import { sandboxIdFor } from '../util/ids.js';
import { setCondition } from './conditions.js';
import type { ControllerContext } from './context.js';
import { NodeCallError, type NodeSandboxRecord } from './node-client.js';

export const ORPHAN_MIN_AGE_MS = 60_000;

export interface SweepReport {
  terminated: string[];
  failedClaims: string[];
}

export async function collectGarbage(
  ctx: ControllerContext,
  readyClaims: () => SandboxClaim[],
  minAgeMs = ORPHAN_MIN_AGE_MS,
): Promise<SweepReport> {
  const report: SweepReport = { terminated: [], failedClaims: [] };
  const now = ctx.now();
  for (const node of ctx.nodes().filter((n) => n.healthy)) {
    const api = ctx.nodeApi(node);
    let records: NodeSandboxRecord[];
    try {
      records = await api.sandboxes();
    } catch (err) {
      if (err instanceof NodeCallError) continue;
      throw err;
    }
    for (const record of records) {
      if (now - Date.parse(record.createdAt) < minAgeMs) continue;
      if (await ownerExists(ctx, record)) continue;
      await api.terminate(record.id);
      report.terminated.push(`${node.name}/${record.id}`);
      ctx.log.info({ node: node.name, sandbox: record.id, owner: record.owner }, 'terminated orphan sandbox');
    }
    const present = new Set(records.map((r) => r.id));
    for (const claim of readyClaims()) {
      const { node: on, sandboxID, startedAt } = claim.status ?? {};
      if (on !== node.name || !sandboxID || present.has(sandboxID)) continue;
      if (now - Date.parse(startedAt ?? '') < minAgeMs) continue;
      if (await markLost(ctx, claim)) report.failedClaims.push(`${claim.metadata.namespace}/${claim.metadata.name}`);
    }
  }
  return report;
}

async function ownerExists(ctx: ControllerContext, record: NodeSandboxRecord): Promise<boolean> {
  const owner = record.owner;
  switch (owner.kind) {
    case 'claim':
      return (await ctx.kube.get<SandboxClaim>(SANDBOX_CLAIMS, owner.namespace, owner.claim)) !== undefined;
    case 'fork':
      return forkChildExists(ctx, owner, record.id);
    case 'warm':
      return (await ctx.kube.get<SandboxPool>(SANDBOX_POOLS, owner.namespace, owner.pool)) !== undefined;
  }
}

/** A fork's sandbox is accounted for by its child claim (fork-children.ts), while the fork lasts. */
async function forkChildExists(
  ctx: ControllerContext,
  owner: Extract<SandboxOwner, { kind: 'fork' }>,
  id: string,
): Promise<boolean> {
  if (!(await ctx.kube.get<SandboxFork>(SANDBOX_FORKS, owner.namespace, owner.fork))) return false;
  const children = await ctx.kube.list<SandboxClaim>(SANDBOX_CLAIMS, owner.namespace, {
    labelSelector: `${LABEL_FORK}=${owner.fork}`,
  });
  return children.items.some(
    (c) => c.status?.sandboxID === id || sandboxIdFor(owner.namespace, c.metadata.name ?? '') === id,
  );
}

async function markLost(ctx: ControllerContext, cached: SandboxClaim): Promise<boolean> {
  const { namespace = '', name = '' } = cached.metadata;
  const claim = await ctx.kube.get<SandboxClaim>(SANDBOX_CLAIMS, namespace, name);
  if (claim?.status?.phase !== 'Ready' || claim.status.sandboxID !== cached.status?.sandboxID) return false;
  const now = new Date(ctx.now());
  await ctx.kube.patch(
    SANDBOX_CLAIMS,
    namespace,
    name,
    {
      status: {
        ...claim.status,
        phase: 'Failed',
        finishedAt: now.toISOString(),
        conditions: setCondition(
          claim.status.conditions,
          {
            type: 'Ready',
            status: 'False',
            reason: 'OrphanReaped',
            message: `sandbox ${claim.status.sandboxID} is gone from its node`,
          },
          now,
        ),
      },
    },
    { status: true },
  );
  ctx.log.warn({ claim: `${namespace}/${name}` }, 'claim lost its sandbox');
  return true;
}
