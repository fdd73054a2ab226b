/**
 * Resolution of a requested network posture (wire-v1.md section 4.2): absent means deny both
 * ways; empty modes mean deny; a bad mode, CIDR, port or domain pattern is 400 invalid_json
 * "invalid network config: <field>.<index>: <entry> ..." naming the offending entry. Whether the
 * host can enforce the posture is the engine's call (it refuses, never weakens).
 */
import {
  DENY_POSTURE,
  MitosError,
  type NetworkPosture,
  NetworkRequestSchema,
  postureFromRequest,
} from '@mitos/protocol';
import { describeZodIssues } from './errors.js';

/** Takes the raw `network` value so shape errors get the same "invalid network config" cause. */
export function resolveNetwork(raw: unknown): NetworkPosture {
  if (raw === undefined || raw === null) return { ...DENY_POSTURE };
  const parsed = NetworkRequestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MitosError('invalid_json', `invalid network config: ${describeZodIssues(parsed.error.issues)}`);
  }
  return postureFromRequest(parsed.data);
}

/** Like resolveNetwork, but absent stays absent (the template's or parent's posture applies). */
export function optionalNetwork(raw: unknown): NetworkPosture | undefined {
  return raw === undefined || raw === null ? undefined : resolveNetwork(raw);
}
