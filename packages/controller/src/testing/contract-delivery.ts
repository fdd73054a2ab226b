/**
 * Contract step for what a claim carries into its sandbox (crd-v1.md 5, 9.1): `env` and
 * `secrets` (as the seed SDK sends them) are visible to commands inside, and no secret value
 * is written into the claim.
 * @module
 */
import assert from 'node:assert/strict';
import type { Secret } from '../api/meta.js';
import type { SandboxClaim } from '../api/v1alpha1/index.js';
import { SANDBOX_CLAIMS, SECRETS } from '../kube/resources.js';
import type { ContractTest } from './contract.js';
import { eventually } from './contract-steps.js';

export function deliverySteps(test: ContractTest): void {
  test('claim env and secrets are visible inside the sandbox; no secret value is in the claim', async (e) => {
    await e.kube.create<Secret>(SECRETS, {
      metadata: { name: 'contract-api', namespace: e.namespace },
      data: { token: Buffer.from('tok-4f2a').toString('base64') },
    });
    const sb = await e.agentRun().sandbox('python', {
      ready: true,
      readyTimeoutMs: e.readyTimeoutMs,
      env: { MODE: 'fast' },
      secrets: { API_TOKEN: ['contract-api', 'token'] },
    });
    assert.equal((await sb.exec('echo $MODE $API_TOKEN')).stdout, 'fast tok-4f2a\n');
    const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, sb.name);
    assert.equal(JSON.stringify(claim).includes('tok-4f2a'), false);
    await sb.terminate();
    await e.kube.delete(SECRETS, e.namespace, 'contract-api');
  });

  test('idleTimeout: a claim with no activity is terminated with reason IdleTimeout', async (e) => {
    const sb = await e
      .agentRun()
      .sandbox('python', { ready: true, readyTimeoutMs: e.readyTimeoutMs, idleTimeout: '5s' });
    assert.equal((await sb.exec('echo active')).stdout, 'active\n');
    await eventually(e.settleMs + 10_000, async () => {
      const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, sb.name);
      return claim?.status?.conditions?.find((c) => c.type === 'Terminated')?.reason === 'IdleTimeout';
    });
    const claim = await e.kube.get<SandboxClaim>(SANDBOX_CLAIMS, e.namespace, sb.name);
    assert.equal(claim?.status?.phase, 'Terminated');
    assert.equal((await e.nodeSandboxes(claim?.status?.node ?? '')).includes(claim?.status?.sandboxID ?? ''), false);
    await sb.terminate();
  });
}
