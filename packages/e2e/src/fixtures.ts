/** A real server on a real Linux engine, on a throwaway state directory. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobStore, type Engine, type LinuxEngineOptions, LocalBackend, openDatabase, Workspaces } from '@mitos/engine';
import { type RunningServer, type ServerOptions, startServer } from '@mitos/server';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';

export const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '../../cli/dist/main.cjs');

export interface LiveServer {
  url: string;
  env: TestEngineEnv;
  server: RunningServer;
  engine: Engine;
  workspaces: Workspaces | undefined;
  /** Stops the listening server only (the engine keeps running); `restart` listens again on the same port. */
  pause(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function liveServer(
  options: {
    apiKeys?: string[];
    serverOptions?: Partial<ServerOptions>;
    engineOptions?: Partial<LinuxEngineOptions>;
    /** Keep workspaces under the state directory (sealed with this key when given). */
    workspaces?: { key?: Buffer };
  } = {},
): Promise<LiveServer> {
  const env = testEngineEnv();
  const db = openDatabase(join(env.stateDir, 'mitos.db'));
  const engine = await env.open({ db, ...options.engineOptions });
  const workspaces =
    options.workspaces &&
    new Workspaces({
      engine,
      db,
      store: new BlobStore(new LocalBackend(join(env.stateDir, 'workspaces')), options.workspaces.key),
    });
  const listen = (port: number) =>
    startServer({
      engine,
      db,
      port,
      apiKeys: options.apiKeys ?? [],
      logger: quietLogger(),
      workspaces,
      ...options.serverOptions,
    });
  let server = await listen(0);
  return {
    url: server.url,
    env,
    get server() {
      return server;
    },
    engine,
    workspaces,
    async pause() {
      await server.close();
    },
    async restart() {
      server = await listen(server.port);
    },
    async stop() {
      await server.close();
      await env.cleanup();
      db.close();
    },
  };
}

/** A pino-compatible logger that drops everything (test output stays readable). */
function quietLogger() {
  const noop = () => {};
  const logger = {
    info: noop,
    warn: noop,
    error: noop,
    debug: noop,
    trace: noop,
    fatal: noop,
    child: () => logger,
    level: 'silent',
  };
  // biome-ignore lint/suspicious/noExplicitAny: a minimal stand-in for pino's Logger type
  return logger as any;
}

export { freePort } from '@mitos/testkit';

/** `mitos serve` as its own process, as a user runs it. */
export function spawnServe(env: TestEngineEnv, port: number, extraArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--state-dir', env.stateDir, ...extraArgs], {
    env: { ...process.env, MITOS_CGROUP_PARENT: env.cgroupParent },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export async function waitHealthy(url: string, timeoutMs = 30_000, apiKey?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const headers: Record<string, string> = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/v1/health`, { headers });
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} did not become healthy`);
}

export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
