/**
 * `spec.idleTimeout` (crd-v1.md 5): a Ready claim whose sandbox has had no exec, process, code
 * or file call through the sandbox API for that long is terminated. The node reports each
 * sandbox's last activity; before any, the claim's start counts.
 * @module
 */
import type { SandboxClaim } from '../api/v1alpha1/index.js';
import type { ControllerContext } from './context.js';
import { parseDuration } from './durations.js';
import type { NodeView } from './nodes.js';

export async function idleExpiry(
  ctx: ControllerContext,
  claim: SandboxClaim,
  node: NodeView,
): Promise<{ expired: boolean; remainingMs?: number }> {
  const idleMs = parseDuration(claim.spec.idleTimeout);
  if (idleMs === undefined || idleMs <= 0) return { expired: false };
  const records = await ctx.nodeApi(node).sandboxes();
  const record = records.find((r) => r.id === claim.status?.sandboxID);
  const last = Date.parse(record?.lastActivityAt ?? claim.status?.startedAt ?? '');
  if (!Number.isFinite(last)) return { expired: false, remainingMs: idleMs };
  const remaining = last + idleMs - ctx.now();
  return remaining <= 0 ? { expired: true } : { expired: false, remainingMs: Math.max(remaining, 250) };
}
