/**
 * The E2B surface's credentials. API keys (`X-API-KEY: e2b_<hex>`) open the control plane and
 * name the tenant; per-sandbox tokens (derived from a server secret, so nothing per sandbox is
 * stored and a restart keeps them valid) open one sandbox's envd and port traffic:
 *
 * - envd access token: the SDK sends it as `X-Access-Token` on every envd call, and signs file
 *   URLs with it. It carries the sandbox id so SDK calls without the `E2b-Sandbox-Id` header
 *   still name their sandbox.
 * - traffic access token: needed on port traffic only when the sandbox was created with
 *   `network.allowPublicTraffic: false` (E2B's default is public).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { ServerSettings } from '../settings.js';

export const E2B_KEY_PATTERN = /^e2b_[0-9a-f]+$/;
const ENVD_TOKEN = /^([a-z0-9]{1,64})\.([0-9a-f]{64})$/;

export class E2bCredentials {
  readonly #secret: Buffer;
  readonly #keyDigests: Buffer[];
  readonly tokenless: boolean;

  /** `apiKeys`: the server's configured keys; only the `e2b_<hex>` ones open this surface. */
  constructor(db: Database, apiKeys: readonly string[]) {
    const stored = new ServerSettings(db).getOrCreate('e2b_token_secret', () => randomBytes(32).toString('hex'));
    this.#secret = Buffer.from(stored, 'hex');
    this.tokenless = apiKeys.length === 0;
    this.#keyDigests = apiKeys.filter((k) => E2B_KEY_PATTERN.test(k)).map((k) => digest(k));
  }

  /** The tenant (key digest) a presented key stands for, or why it is refused. */
  tenantOf(presented: string | undefined): { tenant: string } | { refused: string } {
    if (presented === undefined || presented === '') return { refused: 'missing X-API-KEY header' };
    if (!E2B_KEY_PATTERN.test(presented)) return { refused: 'API key must look like e2b_<hex>' };
    const d = digest(presented);
    if (!this.tokenless && !this.#keyDigests.some((k) => timingSafeEqual(k, d))) {
      return { refused: 'invalid API key' };
    }
    return { tenant: d.toString('hex') };
  }

  envdToken(sandboxId: string): string {
    return `${sandboxId}.${this.#mac('envd', sandboxId)}`;
  }

  /** The sandbox an envd token opens, or undefined when it is not one of ours. */
  sandboxOfEnvdToken(token: string | undefined): string | undefined {
    const m = token === undefined ? null : ENVD_TOKEN.exec(token);
    if (!m) return undefined;
    const [, id, mac] = m as unknown as [string, string, string];
    return safeEqual(mac, this.#mac('envd', id)) ? id : undefined;
  }

  trafficToken(sandboxId: string): string {
    return this.#mac('traffic', sandboxId);
  }

  verifyTrafficToken(sandboxId: string, token: string | undefined): boolean {
    return token !== undefined && safeEqual(token, this.trafficToken(sandboxId));
  }

  /** A signature over `subject` for one purpose (template upload links). */
  sign(purpose: string, subject: string): string {
    return this.#mac(purpose, subject);
  }

  verify(purpose: string, subject: string, signature: string | undefined): boolean {
    return signature !== undefined && safeEqual(signature, this.#mac(purpose, subject));
  }

  #mac(purpose: string, sandboxId: string): string {
    return createHmac('sha256', this.#secret).update(`mitos-e2b-${purpose}\0${sandboxId}`).digest('hex');
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function safeEqual(a: string, b: string): boolean {
  const da = digest(a);
  const db = digest(b);
  return timingSafeEqual(da, db);
}
