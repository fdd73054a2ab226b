/**
 * Cluster-mode client errors, with the codes the reference SDK uses (crd-v1.md 9).
 * @module
 */
import { AgentRunError, type ErrorContext } from '../errors.js';

export function clusterError(
  code: string,
  message: string,
  remediation: string,
  context?: ErrorContext,
  cause?: string,
): AgentRunError {
  return new AgentRunError({ code, message, remediation, ...(context && { context }), ...(cause && { cause }) });
}

/** `cause`: the object's last Ready condition (reason: message), when it had one. */
export function readyTimeout(kind: string, name: string, timeoutMs: number, cause?: string): AgentRunError {
  return clusterError(
    'ready_timeout',
    `${kind} ${name} was not Ready within ${timeoutMs} ms`,
    'check the controller and node daemons (kubectl get sandboxclaims,sandboxpools; controller logs), or wait longer',
    { name, timeout_ms: timeoutMs },
    cause,
  );
}
