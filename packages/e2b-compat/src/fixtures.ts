/**
 * A real mitos server on a real Linux engine for the E2B SDKs, and the SDK environment that
 * points them at it (exactly the recipe in the README: E2B_API_URL and E2B_SANDBOX_URL at
 * `<server>/e2b`, an `e2b_<hex>` key).
 */
import { join } from 'node:path';
import { type Engine, openDatabase } from '@mitos/engine';
import { type RunningServer, startServer } from '@mitos/server';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';
import { pino } from 'pino';

export const TEST_KEY = `e2b_${'5'.repeat(40)}`;

export interface E2bServer {
  url: string;
  /** The value for E2B_API_URL and E2B_SANDBOX_URL. */
  e2bUrl: string;
  env: TestEngineEnv;
  engine: Engine;
  server: RunningServer;
  /** Stops the server and its engine and opens both again on the same state (sandboxes keep running). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `templates`: imported before the server answers, so the first SDK create does not carry an
 * image import under the SDK's own request timeout (slow on a loaded machine).
 */
export async function e2bServer(
  options: {
    apiKeys?: string[];
    warmPoolSize?: number;
    templates?: string[];
    /** The resolver's upstreams (a fake internet's DNS server); the host's otherwise. */
    dnsUpstreams?: Array<{ host: string; port: number }>;
  } = {},
): Promise<E2bServer> {
  const env = testEngineEnv();
  const db = openDatabase(join(env.stateDir, 'mitos.db'));
  const open = () =>
    env.open({
      db,
      warmPoolSize: options.warmPoolSize ?? 1,
      ...(options.dnsUpstreams && { dnsUpstreams: options.dnsUpstreams }),
    });
  const serve = (engine: Engine, port: number) =>
    startServer({ engine, db, port, apiKeys: options.apiKeys ?? [TEST_KEY], logger: pino({ level: 'silent' }) });
  const engine = await open();
  for (const id of options.templates ?? []) await engine.ensureTemplate({ id });
  const server = await serve(engine, 0);
  const live: E2bServer = {
    url: server.url,
    e2bUrl: `${server.url}/e2b`,
    env,
    engine,
    server,
    async restart() {
      await live.server.close();
      await live.engine.close();
      live.engine = await open();
      // The same port, so the SDK's environment (and its sandboxes' URLs) still hold.
      live.server = await serve(live.engine, Number(new URL(live.url).port));
    },
    async stop() {
      await live.server.close();
      await env.cleanup();
      db.close();
    },
  };
  return live;
}

/** Points the SDKs at `live` through the environment variables a user sets. */
export function useE2bEnvironment(live: E2bServer, key = TEST_KEY): void {
  process.env.E2B_API_URL = live.e2bUrl;
  process.env.E2B_SANDBOX_URL = live.e2bUrl;
  process.env.E2B_API_KEY = key;
}
