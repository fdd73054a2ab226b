/** A real server on a real Linux engine with `/mcp` mounted, on a throwaway state directory. */
import { join } from 'node:path';
import { openDatabase } from '@mitos/engine';
import { type RunningServer, startServer } from '@mitos/server';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';
import { createMcpHttpHandler, type McpHttpHandler } from '../http.js';

export interface LiveMcpServer {
  url: string;
  env: TestEngineEnv;
  server: RunningServer;
  mcp: McpHttpHandler;
  /** Lines the server logged, to check that no credential reached them. */
  logs: string[];
  stop(): Promise<void>;
}

export async function liveMcpServer(
  options: { apiKeys?: string[]; idleTimeoutMs?: number } = {},
): Promise<LiveMcpServer> {
  const env = testEngineEnv();
  const db = openDatabase(join(env.stateDir, 'mitos.db'));
  const engine = await env.open({ db });
  let url = '';
  const mcp = createMcpHttpHandler({ apiUrl: () => url, idleTimeoutMs: options.idleTimeoutMs });
  const logs: string[] = [];
  const server = await startServer({
    engine,
    db,
    port: 0,
    apiKeys: options.apiKeys ?? [],
    logger: recordingLogger(logs),
    mounts: [{ path: '/mcp', fetch: mcp.handle, close: mcp.close }],
  });
  url = server.url;
  return {
    url,
    env,
    server,
    mcp,
    logs,
    async stop() {
      await server.close();
      await env.cleanup();
      db.close();
    },
  };
}

/** A pino-shaped logger that keeps each entry as a JSON line. */
function recordingLogger(lines: string[]) {
  const at =
    (level: string) =>
    (...args: unknown[]) =>
      lines.push(JSON.stringify({ level, args }));
  const logger = {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    trace: at('trace'),
    fatal: at('fatal'),
    child: () => logger,
    level: 'debug',
  };
  // biome-ignore lint/suspicious/noExplicitAny: a minimal stand-in for pino's Logger type
  return logger as any;
}
