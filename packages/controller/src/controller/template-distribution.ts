/**
 * Getting a template onto one node without building it twice: fetched from a node that has
 * it ready (node/template-transfer.ts); from the next such node when one fails (a refused
 * digest, an unreachable holder, an export that fails); built on the node itself only as the
 * last resort, with the reasons in the message. The pool reconciler uses it for its holders, the
 * claim reconciler for a claim placed on a node outside them. Built-ins go the same way (their
 * recipe has no spec): a node whose image cache holds the tree prepares it from there, one
 * without it fetches the tree from a node that has it, and builds it (debootstrap) only last. Which ways failed lately is the
 * node's memory (its template report), so this keeps no state and survives controller restarts.
 * @module
 */
import type { TemplateRecipe, TemplateReport, TemplateState } from '../node/node-sandboxes.js';
import type { ControllerContext } from './context.js';
import { type NodeApi, NodeCallError } from './node-client.js';
import type { NodeView } from './nodes.js';

/** Where a node stands with a template, worded for the Ready condition of what waits on it. */
export interface Preparation {
  state: TemplateState;
  /** TemplateReady, TemplateBuilding, TemplateFetching, TemplateBuildingLocally or TemplateFailed. */
  reason: string;
  message: string;
  /** True while the node builds it itself (others then wait rather than build it too). */
  building: boolean;
}

export interface PrepareOptions {
  /** Nodes that have the template ready, best first; the target itself is skipped. */
  sources: readonly NodeView[];
  /** May the node build it when no source exists at all (false: another node is building it). */
  mayBuild: boolean;
}

/** Starts (or reports) getting `image` onto `node`; never waits for a transfer or a build. */
export async function prepareTemplateOn(
  ctx: ControllerContext,
  node: NodeView,
  image: string,
  recipe: TemplateRecipe,
  { sources, mayBuild }: PrepareOptions,
): Promise<Preparation> {
  const api = ctx.nodeApi(node);
  const report = await api.templateReport(image);
  const nameOf = (via: string) =>
    via === 'build' ? `a build on ${node.name}` : (sources.find((s) => s.controlEndpoint === via)?.name ?? via);
  if (report.state === 'ready') return ready(node, image);
  if (report.state === 'building') return running(node, image, report, nameOf);
  if (report.cached && !report.failures.some((f) => f.via === 'build')) {
    // A built-in in the node's own image cache: preparing it copies the tree, nothing is built.
    const state = await api.prepareTemplate(image, recipe);
    if (state === 'ready') return ready(node, image);
    const message = `preparing ${image} on ${node.name} from its image cache`;
    return { state, reason: state === 'failed' ? 'TemplateFailed' : 'TemplateBuilding', message, building: true };
  }

  const failed = new Set(report.failures.map((f) => f.via));
  const notes = report.failures.map((f) => `${nameOf(f.via)}: ${f.error}`);
  for (const source of sources) {
    if (source.name === node.name || failed.has(source.controlEndpoint)) continue;
    const holder = ctx.nodeApi(source);
    if (!holder.exportTemplate) continue;
    try {
      const exported = await holder.exportTemplate(image);
      if (exported.state !== 'ready') {
        const message = `waiting for ${source.name} to export ${image} for ${node.name}${since(notes)}`;
        return { state: 'building', reason: 'TemplateFetching', message, building: false };
      }
      const fetch = { endpoint: source.controlEndpoint, digest: exported.digest };
      const state = await api.prepareTemplate(image, { ...recipe, fetch });
      if (state === 'ready') return ready(node, image);
      if (state === 'building') {
        const message = `fetching ${image} on ${node.name} from ${source.name}${since(notes)}`;
        return { state, reason: 'TemplateFetching', message, building: false };
      }
      notes.push(`${source.name}: the fetch failed at once`);
    } catch (err) {
      if (!(err instanceof NodeCallError)) throw err;
      // A pool holder is listed before its template is ready: one still building it is waited
      // for (a build here would be the second), one that has nothing and builds nothing is not.
      if (err.code === 'template_not_ready' && (await reportedTemplateState(holder, image)) === 'building') {
        const message = `waiting for ${source.name} to finish building ${image} before ${node.name} fetches it${since(notes)}`;
        return { state: 'building', reason: 'TemplateFetching', message, building: false };
      }
      notes.push(`${source.name}: ${err.message}`);
    }
  }
  // Every holder failed this node (or none can export): the last resort is a build here.
  if (notes.length === 0 && !mayBuild) {
    const message = `waiting for ${image} to be built on another node before ${node.name} fetches it`;
    return { state: 'building', reason: 'TemplateBuilding', message, building: false };
  }
  if (failed.has('build')) {
    const message = `${image} on ${node.name}: ${notes.join('; ')}`;
    return { state: 'failed', reason: 'TemplateFailed', message, building: false };
  }
  const state = await api.prepareTemplate(image, recipe);
  if (state === 'ready') return ready(node, image);
  const fallback = notes.length > 0;
  const message = fallback
    ? `building ${image} on ${node.name}: no holder served it intact (${notes.join('; ')})`
    : `building ${image} on ${node.name}`;
  return {
    state,
    reason: state === 'failed' ? 'TemplateFailed' : fallback ? 'TemplateBuildingLocally' : 'TemplateBuilding',
    message,
    building: state === 'building',
  };
}

/** What a node itself says of `image` now (its Lease can be 10 s behind); undefined when it cannot be asked. */
export async function reportedTemplateState(api: NodeApi, image: string): Promise<TemplateReport['state'] | undefined> {
  try {
    return (await api.templateReport(image)).state;
  } catch (err) {
    if (err instanceof NodeCallError) return undefined;
    throw err;
  }
}

/** Whether a node's Lease says it can serve `image`: ready, or (a built-in) its tree in the node's image cache. */
export function servesTemplate(node: NodeView, image: string): boolean {
  return node.capacity.templates[image] === 'ready' || node.capacity.cachedImages?.includes(image) === true;
}

/**
 * Healthy nodes that can serve `image`: the pool's ready holders first (their Lease may not say
 * so yet), then any other node whose Lease does.
 */
export function templateSources(nodes: readonly NodeView[], image: string, holders: readonly string[]): NodeView[] {
  const ready = nodes.filter((n) => n.healthy && (holders.includes(n.name) || servesTemplate(n, image)));
  const rank = (n: NodeView) => (holders.includes(n.name) ? 0 : 1);
  return ready.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

function ready(node: NodeView, image: string): Preparation {
  return { state: 'ready', reason: 'TemplateReady', message: `${image} ready on ${node.name}`, building: false };
}

function running(node: NodeView, image: string, report: TemplateReport, nameOf: (via: string) => string): Preparation {
  if (report.via === undefined || report.via === 'build') {
    const message = `building ${image} on ${node.name}`;
    return { state: 'building', reason: 'TemplateBuilding', message, building: true };
  }
  const p = report.progress;
  const bytes = p ? `: ${mib(p.bytes)} of ${mib(p.totalBytes)} MiB` : '';
  const message = `fetching ${image} on ${node.name} from ${nameOf(report.via)}${bytes}`;
  return { state: 'building', reason: 'TemplateFetching', message, building: false };
}

function since(notes: readonly string[]): string {
  return notes.length > 0 ? ` (after ${notes.join('; ')})` : '';
}

function mib(bytes: number): string {
  return (bytes / 1024 ** 2).toFixed(1);
}
