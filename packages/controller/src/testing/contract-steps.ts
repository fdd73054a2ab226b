/**
 * Small helpers the contract steps share: reading a handle's token, insisting an earlier step
 * left what this one needs, and waiting for an eventual effect.
 * @module
 */
import assert from 'node:assert/strict';
import { tokenSecretName } from '../api/group.js';
import type { Secret } from '../api/meta.js';
import { SECRETS } from '../kube/resources.js';
import type { ClusterEnv } from './contract.js';

export async function tokenOf(env: ClusterEnv, handle: string): Promise<string> {
  const secret = await env.kube.get<Secret>(SECRETS, env.namespace, tokenSecretName(handle));
  return Buffer.from(secret?.data?.token ?? '', 'base64').toString('utf8');
}

export function required<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'an earlier step of this suite failed');
  return value;
}

/** Polls `check` until it holds or `timeoutMs` passes (then fails). */
export async function eventually(timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
