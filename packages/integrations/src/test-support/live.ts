/** A real server on a real Linux engine, on a throwaway state directory, for the adapter tests. */
import { join } from 'node:path';
import { openDatabase } from '@mitos/engine';
import { testEngineEnv } from '@mitos/engine/testing';
import { SandboxServer } from '@mitos/sdk';
import { startServer } from '@mitos/server';
import { pino } from 'pino';

export interface LiveServer {
  url: string;
  api: SandboxServer;
  stop(): Promise<void>;
}

export async function liveServer(): Promise<LiveServer> {
  const env = testEngineEnv();
  const db = openDatabase(join(env.stateDir, 'mitos.db'));
  const engine = await env.open({ db });
  const server = await startServer({ engine, db, port: 0, logger: pino({ level: 'silent' }) });
  return {
    url: server.url,
    api: new SandboxServer({ baseUrl: server.url }),
    async stop() {
      await server.close();
      await env.cleanup();
      db.close();
    },
  };
}
