/** A real server on a real Linux engine, on a throwaway state directory, with a python sandbox, for the adapter tests. */
import { join } from 'node:path';
import { openDatabase } from '@mitos/engine';
import { create, type Sandbox, SandboxServer } from '@mitos/sdk';
import { startServer } from '@mitos/server';
import { testEngineEnv } from '@mitos/testkit';
import { pino } from 'pino';

export interface LiveServer {
  url: string;
  api: SandboxServer;
  sandbox: Sandbox;
  stop(): Promise<void>;
}

export async function liveServer(): Promise<LiveServer> {
  const env = testEngineEnv();
  const db = openDatabase(join(env.stateDir, 'mitos.db'));
  const engine = await env.open({ db });
  const server = await startServer({ engine, db, port: 0, logger: pino({ level: 'silent' }) });
  const sandbox = await create('python', { baseUrl: server.url });
  return {
    url: server.url,
    api: new SandboxServer({ baseUrl: server.url }),
    sandbox,
    async stop() {
      await sandbox.terminate();
      await server.close();
      await env.cleanup();
      db.close();
    },
  };
}
