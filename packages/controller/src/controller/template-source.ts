/**
 * What a node prepares for a SandboxTemplate: a built-in image by its name (as before), or, when
 * the template carries a recipe (`buildSteps`, legacy `init`, `command`, `env`, `resources`,
 * `networkPolicy`) or names an OCI image, the spec the node's engine builds (engine
 * templates-as-code: steps in a build sandbox, cached by chained key, OCI base pulled on the
 * node). The key the controller addresses the template by is then a digest of that spec, so an
 * edited template is a new template on every node and a pool never mixes old and new sandboxes.
 * @module
 */
import { createHash } from 'node:crypto';
import {
  type BuildStep,
  type NetworkRequestBody,
  NetworkRequestSchema,
  type TemplateSpec,
  TemplateSpecSchema,
} from '@mitos/protocol';
import type { SandboxTemplate } from '../api/v1alpha1/index.js';
import type { NetworkPolicy } from '../api/v1alpha1/shared.js';
import { isBuiltInImage } from '../util/built-ins.js';

export interface TemplateSource {
  /** How the controller and nodes name this template (an image name, or `spec-<digest>`). */
  key: string;
  /** Present when the node must build it from a spec. */
  spec?: TemplateSpec;
  /** The posture its build steps and sandboxes get (from `networkPolicy`). */
  network?: NetworkRequestBody;
}

/** Why a template cannot be prepared in a cluster (the pool reports it; nothing is built). */
export class TemplateRefusal extends Error {
  override name = 'TemplateRefusal';
}

export function templateSource(template: SandboxTemplate): TemplateSource {
  const s = template.spec;
  const hasRecipe =
    (s.buildSteps?.length ?? 0) > 0 ||
    (s.init?.length ?? 0) > 0 ||
    (s.command?.length ?? 0) > 0 ||
    (s.env?.length ?? 0) > 0 ||
    s.resources?.cpu !== undefined ||
    s.resources?.memory !== undefined ||
    s.networkPolicy !== undefined;
  if (isBuiltInImage(s.image) && !hasRecipe) return { key: s.image };
  const spec: TemplateSpec = { image: s.image };
  const steps = (s.buildSteps?.length ?? 0) > 0 ? (s.buildSteps ?? []).map(stepOf) : (s.init ?? []).map(runStep);
  if (steps.length > 0) spec.buildSteps = steps;
  if (s.command?.length) spec.command = [...s.command];
  if (s.env?.length) {
    spec.env = s.env.map((e) => {
      if (e.valueFrom !== undefined) {
        throw new TemplateRefusal(
          `env ${e.name}: valueFrom is not supported in a template (claims carry secrets: spec.secrets)`,
        );
      }
      return { name: e.name, value: e.value ?? '' };
    });
  }
  const { cpu, memory } = s.resources ?? {};
  if (cpu !== undefined || memory !== undefined) {
    spec.resources = {
      ...(cpu !== undefined && { cpu: String(cpu) }),
      ...(memory !== undefined && { memory: String(memory) }),
    };
  }
  const parsed = TemplateSpecSchema.safeParse(spec);
  if (!parsed.success) throw new TemplateRefusal(`spec is not a template spec: ${parsed.error.issues[0]?.message}`);
  const network = s.networkPolicy ? postureOf(s.networkPolicy) : undefined;
  const digest = createHash('sha256')
    .update(JSON.stringify({ spec, network: network ?? null }))
    .digest('hex')
    .slice(0, 20);
  return { key: `spec-${digest}`, spec, ...(network && { network }) };
}

function runStep(command: string): BuildStep {
  return { type: 'run', run: command };
}

function stepOf(step: NonNullable<SandboxTemplate['spec']['buildSteps']>[number], i: number): BuildStep {
  switch (step.type) {
    case 'run':
      return runStep(step.run ?? '');
    case 'env':
      return { type: 'env', envName: step.envName ?? '', envValue: step.envValue ?? '' };
    case 'workdir':
      return { type: 'workdir', workdir: step.workdir ?? '' };
    case 'copy':
      // A cluster has no client-side build context to copy from.
      throw new TemplateRefusal(
        `buildSteps[${i}] (copy ${step.source} -> ${step.dest}): copy steps need a build context, which a cluster template has none of; build the template with \`mitos template build\` and push it (\`mitos template push\`), then name the pushed image in spec.image`,
      );
    default:
      throw new TemplateRefusal(`buildSteps[${i}]: unknown step type ${JSON.stringify(step.type)}`);
  }
}

/** networkPolicy (CRD camelCase) as the wire posture the node's engine resolves and enforces. */
function postureOf(p: NetworkPolicy): NetworkRequestBody {
  const body = {
    ...(p.blockNetwork !== undefined && { block: p.blockNetwork }),
    ...(p.egress !== undefined && { egress: p.egress }),
    ...(p.allow?.length && { allow_domains: [...p.allow] }),
    ...(p.allowCidrs?.length && { allow_cidrs: [...p.allowCidrs] }),
    ...(p.inbound !== undefined && { inbound: p.inbound }),
    ...(p.inboundCidrs?.length && { inbound_cidrs: [...p.inboundCidrs] }),
  };
  const parsed = NetworkRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TemplateRefusal(`networkPolicy.${issue?.path.join('.')}: ${issue?.message}`);
  }
  return body as NetworkRequestBody;
}
