/**
 * What an envd call knows once the router has authorized it: the sandbox it addresses and the
 * account it acts as. Handed to Connect handlers through a context value.
 */
import { createContextKey } from '@connectrpc/connect';
import type { Account } from '../accounts.js';

export interface EnvdCall {
  sandboxId: string;
  account: Account;
  /** E2B `envVars` given at create, applied to every process. */
  envVars: Record<string, string>;
  /** Seconds between keepalive events on long streams; 0 = none. */
  keepaliveSeconds: number;
}

export const ENVD_CALL = createContextKey<EnvdCall | undefined>(undefined, { description: 'e2b envd call' });
