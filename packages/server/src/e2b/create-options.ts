/**
 * E2B's NewSandbox body checked against what this server can enforce; anything we cannot
 * honour is refused, never accepted and ignored. Network fields map onto a posture (network.ts).
 */
import { MitosError } from '@mitos/protocol';
import { z } from 'zod';

const StringMap = z.record(z.string(), z.string());

export const NewSandboxSchema = z.object({
  templateID: z.string().min(1),
  timeout: z.number().int().min(0).optional(),
  autoPause: z.boolean().optional(),
  autoPauseMemory: z.boolean().optional(),
  autoResume: z.object({ enabled: z.boolean().optional() }).passthrough().nullish(),
  secure: z.boolean().optional(),
  allow_internet_access: z.boolean().optional(),
  network: z
    .object({
      allowPublicTraffic: z.boolean().optional(),
      allowOut: z.array(z.string()).optional(),
      denyOut: z.array(z.string()).optional(),
      egressProxy: z.unknown().optional(),
      maskRequestHost: z.string().optional(),
      rules: z.record(z.string(), z.unknown()).optional(),
    })
    .passthrough()
    .optional(),
  metadata: StringMap.nullish(),
  envVars: StringMap.nullish(),
  mcp: z.record(z.string(), z.unknown()).nullish(),
  iam: z
    .object({ tokens: z.record(z.string(), z.unknown()).optional() })
    .passthrough()
    .nullish(),
  volumeMounts: z.array(z.unknown()).nullish(),
});

export type NewSandbox = z.infer<typeof NewSandboxSchema>;

const EGRESS_REMEDIATION = 'express egress with allowInternetAccess, allowOut and denyOut';

function refuse(what: string, remediation: string): never {
  throw new MitosError('not_implemented', what, {}, { remediation });
}

/** Throws for every field this server would otherwise have to ignore. */
export function checkEnforceable(body: NewSandbox): { publicTraffic: boolean; internet: boolean | null } {
  const net = body.network ?? {};
  if (net.egressProxy !== undefined && net.egressProxy !== null)
    refuse('network.egressProxy is not supported', EGRESS_REMEDIATION);
  if (net.maskRequestHost !== undefined) refuse('network.maskRequestHost is not supported', 'leave it unset');
  if (net.rules !== undefined && Object.keys(net.rules).length > 0)
    refuse('network.rules are not supported', EGRESS_REMEDIATION);
  if (body.autoPause === true || body.autoResume?.enabled === true) {
    refuse(
      'auto-pause and auto-resume are not supported',
      'leave onTimeout/autoPause unset; pause explicitly with sandbox.pause()',
    );
  }
  if (body.mcp !== undefined && body.mcp !== null)
    refuse('MCP gateways are not supported', 'create the sandbox without mcp');
  if (body.iam?.tokens && Object.keys(body.iam.tokens).length > 0)
    refuse('workload identity is not supported', 'leave iam unset');
  if ((body.volumeMounts?.length ?? 0) > 0) refuse('volume mounts are not supported', 'leave volumeMounts unset');
  return { publicTraffic: net.allowPublicTraffic ?? true, internet: body.allow_internet_access ?? null };
}
