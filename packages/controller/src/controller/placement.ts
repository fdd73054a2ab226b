/**
 * Where things go, as pure functions over the node views: the nodes a pool may use, which of
 * them hold its template, where a claim lands, and where warm sandboxes are added or removed.
 * @module
 */
import { matchesNodeSelector, type NodeView } from './nodes.js';

export function eligibleNodes(
  nodes: readonly NodeView[],
  nodeSelector: Record<string, string> | undefined,
): NodeView[] {
  return nodes.filter((n) => n.healthy && matchesNodeSelector(n, nodeSelector)).sort(byName);
}

/**
 * The nodes that should hold a pool's template: those already holding or building it first,
 * then the least loaded, `count` in all (at least one).
 */
export function templateHolders(eligible: readonly NodeView[], image: string, count: number): NodeView[] {
  const rank = (n: NodeView) => {
    const state = n.capacity.templates[image];
    return state === 'ready' ? 0 : state === 'building' ? 1 : 2;
  };
  return [...eligible]
    .sort((a, b) => rank(a) - rank(b) || load(a) - load(b) || byName(a, b))
    .slice(0, Math.max(1, count));
}

export interface ClaimPlacement {
  eligible: readonly NodeView[];
  image: string;
  /** `spec.nodeName`: preferred when it is eligible. */
  preferred?: string | undefined;
  /** Nodes the pool keeps its template (and warm sandboxes) on. */
  holders?: readonly string[];
}

/** The node for a claim, or undefined when no eligible node has room. */
export function chooseClaimNode({ eligible, image, preferred, holders = [] }: ClaimPlacement): NodeView | undefined {
  const withRoom = eligible.filter((n) => n.capacity.maxSandboxes === 0 || load(n) < n.capacity.maxSandboxes);
  const named = withRoom.find((n) => n.name === preferred);
  if (named) return named;
  const rank = (n: NodeView) => (holders.includes(n.name) ? 0 : n.capacity.templates[image] === 'ready' ? 1 : 2);
  return [...withRoom].sort((a, b) => rank(a) - rank(b) || load(a) - load(b) || byName(a, b))[0];
}

/** Spreads `count` new warm sandboxes over `nodes`, fewest warm first. Node name -> how many. */
export function spreadWarm(
  warmByNode: ReadonlyMap<string, number>,
  nodes: readonly string[],
  count: number,
): Map<string, number> {
  const counts = new Map(nodes.map((n) => [n, warmByNode.get(n) ?? 0]));
  const plan = new Map<string, number>();
  for (let i = 0; i < count && counts.size > 0; i++) {
    const [node] = [...counts.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0]!;
    counts.set(node, (counts.get(node) ?? 0) + 1);
    plan.set(node, (plan.get(node) ?? 0) + 1);
  }
  return plan;
}

/** Takes `count` warm sandboxes away, most warm first. Node name -> how many. */
export function trimWarm(warmByNode: ReadonlyMap<string, number>, count: number): Map<string, number> {
  const counts = new Map(warmByNode);
  const plan = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const top = [...counts.entries()]
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
    if (!top) break;
    counts.set(top[0], top[1] - 1);
    plan.set(top[0], (plan.get(top[0]) ?? 0) + 1);
  }
  return plan;
}

function load(n: NodeView): number {
  return n.capacity.activeSandboxes;
}

function byName(a: NodeView, b: NodeView): number {
  return a.name.localeCompare(b.name);
}
