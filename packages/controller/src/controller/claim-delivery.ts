/**
 * What a claim asks to be delivered into its sandbox, resolved before the node is called:
 * `env` values, and `secrets` read from their Secrets (as env, or as a 0400 file at
 * `mountPath`). Spec fields this controller cannot honour are refused, never ignored. No value
 * is ever put into a log line, a condition message or an error.
 * @module
 */
import type { Secret } from '../api/meta.js';
import type { SandboxClaim } from '../api/v1alpha1/index.js';
import { SECRETS } from '../kube/resources.js';
import type { ClaimDelivery } from '../node/claim-env.js';
import type { ControllerContext } from './context.js';
import { parseDuration } from './durations.js';

export type DeliveryOutcome =
  | { delivery: ClaimDelivery }
  | { refuse: { reason: string; message: string } }
  | { wait: { reason: string; message: string } };

/** Claim fields this controller does not carry out yet: refused with a reason, not accepted. */
function unsupported(claim: SandboxClaim): { reason: string; message: string } | undefined {
  const spec = claim.spec;
  if (spec.volumeOverrides && spec.volumeOverrides.length > 0) {
    return {
      reason: 'VolumeOverridesUnsupported',
      message: 'spec.volumeOverrides is not supported: sandboxes here have no per-volume fork policy; remove it',
    };
  }
  if (spec.idleTimeout !== undefined && !((parseDuration(spec.idleTimeout) ?? 0) > 0)) {
    return {
      reason: 'InvalidIdleTimeout',
      message: `spec.idleTimeout ${JSON.stringify(spec.idleTimeout)} is not a duration`,
    };
  }
  if (spec.checkpointOnTerminate) {
    return {
      reason: 'CheckpointUnsupported',
      message: 'spec.checkpointOnTerminate (memory snapshots) is not supported',
    };
  }
  const fromRef = spec.env?.find((e) => e.valueFrom !== undefined);
  if (fromRef) {
    return {
      reason: 'EnvValueFromUnsupported',
      message: `spec.env[${fromRef.name}].valueFrom is not supported; use value, or spec.secrets for Secret values`,
    };
  }
  return undefined;
}

export async function resolveDelivery(ctx: ControllerContext, claim: SandboxClaim): Promise<DeliveryOutcome> {
  const refusal = unsupported(claim);
  if (refusal) return { refuse: refusal };
  const namespace = claim.metadata.namespace ?? '';
  const env: Record<string, string> = {};
  for (const e of claim.spec.env ?? []) env[e.name] = e.value ?? '';
  const files: NonNullable<ClaimDelivery['files']> = [];
  for (const s of claim.spec.secrets ?? []) {
    const secretName = s.secretRef.name ?? '';
    const secret = await ctx.kube.get<Secret>(SECRETS, namespace, secretName);
    const encoded = secret?.data?.[s.secretRef.key];
    if (encoded === undefined) {
      if (s.secretRef.optional) continue;
      return {
        wait: {
          reason: 'SecretNotFound',
          message: `Secret ${secretName} has no key ${s.secretRef.key} (secrets[${s.name}])`,
        },
      };
    }
    if (s.mountPath) {
      if (!s.mountPath.startsWith('/') || s.mountPath.split('/').includes('..')) {
        return {
          refuse: { reason: 'InvalidSecretMount', message: `secrets[${s.name}].mountPath must be an absolute path` },
        };
      }
      files.push({ path: s.mountPath, content: encoded });
    } else {
      env[s.envVar || s.name] = Buffer.from(encoded, 'base64').toString('utf8');
    }
  }
  return { delivery: { env, files } };
}
