/**
 * SDK calls against the bench server. The key is passed explicitly so the SDK never falls back
 * to MITOS_API_KEY or a user's credentials file.
 * @module
 */
import { create, type Sandbox, SandboxServer } from '@mitos/sdk';
import type { BenchEnv } from './bench-env.js';

export const TEMPLATE = 'python';

export function newSandbox(env: BenchEnv): Promise<Sandbox> {
  return create(TEMPLATE, { baseUrl: env.url, apiKey: env.apiKey });
}

/**
 * Make sure the template is imported into this state dir's storage before anything is timed:
 * the first use copies the cached rootfs into the fresh btrfs volume, which takes a while.
 */
export async function prepareTemplate(env: BenchEnv): Promise<void> {
  await new SandboxServer({ baseUrl: env.url, apiKey: env.apiKey, timeoutMs: 0 }).ensureTemplate(TEMPLATE);
}

/** Terminate handles a few at a time; failures are ignored (the env clean-up reaps the rest). */
export async function terminateAll(
  handles: ReadonlyArray<{ terminate(): Promise<void> }>,
  parallel = 8,
): Promise<void> {
  for (let i = 0; i < handles.length; i += parallel) {
    await Promise.all(handles.slice(i, i + parallel).map((h) => h.terminate().catch(() => {})));
  }
}
