/**
 * Servers under test: the real server on a real Linux engine, either in this process (its
 * pino output captured line by line, so tests can search every log line for secrets) or as
 * `mitos serve` in its own process (so it can be killed with SIGKILL mid-request).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BlobStore,
  type LinuxEngine,
  type LinuxEngineOptions,
  LocalBackend,
  openDatabase,
  Workspaces,
} from '@mitos/engine';
import { type RunningServer, type ServerOptions, startServer } from '@mitos/server';
import { type TestEngineEnv, testEngineEnv } from '@mitos/testkit';
import { pino } from 'pino';
import type { Recorder } from './figures.js';
import { leaksOf } from './host.js';

export const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '../../cli/dist/main.cjs');

export interface LiveServer {
  url: string;
  env: TestEngineEnv;
  engine: LinuxEngine;
  server: RunningServer;
  workspaces: Workspaces | undefined;
  /** Every line the server and engine logged, in order. */
  logs: string[];
  stop(): Promise<void>;
}

export async function liveServer(
  options: {
    apiKeys?: string[];
    serverOptions?: Partial<ServerOptions>;
    env?: TestEngineEnv;
    workspaces?: boolean;
    /** Engine options beyond the harness's (a fake internet's DNS as the resolver upstream). */
    engineOptions?: Partial<LinuxEngineOptions>;
  } = {},
): Promise<LiveServer> {
  const env = options.env ?? testEngineEnv();
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const db = openDatabase(join(env.stateDir, 'mitos.db'));
  const engine = await env.open({
    ...options.engineOptions,
    db,
    log: (level, msg, fields) => logger[level]({ ...fields }, msg),
  });
  const workspaces = options.workspaces
    ? new Workspaces({ engine, db, store: new BlobStore(new LocalBackend(join(env.stateDir, 'workspaces'))) })
    : undefined;
  const server = await startServer({
    engine,
    db,
    workspaces,
    port: 0,
    apiKeys: options.apiKeys ?? [],
    logger,
    ...options.serverOptions,
  });
  return {
    url: server.url,
    env,
    engine,
    server,
    workspaces,
    logs,
    async stop() {
      await server.close();
      await env.cleanup();
      db.close();
    },
  };
}

/**
 * The end of a suite on a live server: stop it, record what it left behind, save the suite's
 * figures, then fail if it left anything or if any of `secrets` reached its log.
 */
export async function stopAndCheck(live: LiveServer, rec: Recorder, secrets: readonly string[] = []): Promise<void> {
  const { stateDir, cgroupParent } = live.env;
  const logs = live.logs.join('\n');
  await live.stop();
  const leaks = leaksOf(stateDir, cgroupParent);
  rec.count('leaks_found', leaks.length);
  rec.save();
  for (const secret of secrets) assert.ok(!logs.includes(secret), 'a credential reached the log');
  assert.deepEqual(leaks, []);
}

export { freePort } from '@mitos/testkit';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** stdout and stderr lines (pino logs go to stdout). */
  output: string[];
  exited: Promise<number | null>;
}

/** `mitos serve` in its own process on `env`'s state dir and cgroup parent. */
export function spawnServe(
  env: TestEngineEnv,
  port: number,
  opts: { apiKeys?: string[]; extraEnv?: Record<string, string>; extraFd?: boolean } = {},
): ServeProcess {
  const keys = (opts.apiKeys ?? []).flatMap((k) => ['--api-key', k]);
  const child = spawn(process.execPath, [CLI, ...keys, 'serve', '--port', String(port), '--state-dir', env.stateDir], {
    env: { ...process.env, ...opts.extraEnv, MITOS_CGROUP_PARENT: env.cgroupParent },
    // extraFd: a pipe at fd 3 without close-on-exec, like one leaked by the server's own parent.
    stdio: opts.extraFd ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8').on('data', (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop() ?? '';
      output.push(...parts);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, output, exited };
}

export async function waitHealthy(
  url: string,
  timeoutMs = 60_000,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
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

/** SIGKILL and wait for the exit (no handler runs: this is the crash being tested). */
export async function killHard(proc: ServeProcess): Promise<void> {
  proc.child.kill('SIGKILL');
  await proc.exited;
}

/** SIGTERM, then SIGKILL if it lingers. */
/** The end of a suite on a `mitos serve` process: stop it, clean its env, fail on leaks. */
export async function stopServeAndCheck(proc: ServeProcess, env: TestEngineEnv, rec: Recorder): Promise<void> {
  await stopServe(proc);
  await env.cleanup();
  const leaks = leaksOf(env.stateDir, env.cgroupParent);
  rec.count('leaks_found', leaks.length);
  rec.save();
  assert.deepEqual(leaks, []);
}

export async function stopServe(proc: ServeProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
  await proc.exited;
  clearTimeout(timer);
}
