/**
 * `mitos serve`: open the default engine on a state directory, serve the API until SIGINT or
 * SIGTERM, and shut down cleanly. Sandboxes keep running when the server stops; the next
 * start reattaches them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '@mitos/engine';
import { createLogger, type HttpMount, startServer } from '@mitos/server';
import { describeEngine, type EngineKind, openEngine } from './open-engine.js';
import { openWorkspaces } from './open-workspaces.js';
import { readApiKeyFile } from './service.js';
import { defaultStateDir } from './state-dir.js';

export interface ServeOptions {
  host: string;
  port: number;
  stateDir?: string;
  /** Accepted bearer keys; MITOS_API_KEY_FILE (the systemd unit sets it) adds the keys in that file. */
  apiKeys: string[];
  maxExecTimeoutSeconds?: number;
  /** `--max-streams-per-sandbox`; 0 = unlimited; default 16. */
  maxStreamsPerSandbox?: number;
  /** `--default-lifetime-seconds`: deadline for every new sandbox; default none. */
  defaultLifetimeSeconds?: number;
  /** `--preview-ttl-seconds`; default 3600. */
  previewTtlSeconds?: number;
  /** `--preview-domain`: host-form preview URLs under `<id>.preview.<domain>`. */
  previewDomain?: string;
  /** `--e2b-domain`: the domain E2B SDKs build sandbox hosts on; default from each request's Host. */
  e2bDomain?: string;
  /** Templates to build (or take from cache) before the server starts answering. */
  prebuild?: string[];
  /**
   * Where prebuild progress goes instead of the JSON log (the CLI prints `docker build`-like
   * lines on a terminal): each progress line of a template, then its time once ready.
   */
  prebuildProgress?: (template: string, event: { line: string } | { readyMs: number }) => void;
  /** `--warm-pool`: launched sandboxes kept ready per template; default 2, 0 disables. */
  warmPoolSize?: number;
  /** Fork children launched ahead by the linux engine; default DEFAULT_FORK_SLOTS, 0 disables. */
  forkSlots?: number;
  /**
   * `--warm-kernels` (true): every pooled sandbox starts its python kernel ahead;
   * `--no-warm-kernels` (false): none does; absent: where run_code is in recent use (linux engine).
   */
  warmKernels?: boolean;
  /** `--seccomp-opt-out`: templates whose sandboxes run without the default seccomp filter. */
  seccompOptOut?: string[];
  /** Where the JSON log lines go instead of stdout (the CLI reformats them for a terminal). */
  logDestination?: { write(line: string): void };
  /** `--engine`: linux (namespaces, the default) or microvm (QEMU microVMs; KVM where usable). */
  engine?: EngineKind;
  /** A file holding the key that seals workspace content at rest (default env MITOS_WORKSPACE_KEY_FILE). */
  workspaceKeyFile?: string;
  /** Endpoints to add behind the same API keys (the CLI adds `/mcp`); `self.url()` is this server's URL once listening. */
  mounts?: (self: { url(): string }) => HttpMount[];
}

export async function runServe(options: ServeOptions): Promise<void> {
  const logger = createLogger(options.logDestination);
  const keyFile = process.env.MITOS_API_KEY_FILE;
  const apiKeys = keyFile ? [...options.apiKeys, ...readApiKeyFile(keyFile)] : options.apiKeys;
  const stateDir = options.stateDir ?? defaultStateDir();
  mkdirSync(stateDir, { recursive: true });
  const db = openDatabase(join(stateDir, 'mitos.db'));
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) =>
    logger[level]({ ...fields }, msg);
  const engine = await openEngine(options.engine ?? 'linux', {
    stateDir,
    db,
    warmPoolSize: options.warmPoolSize,
    forkSlots: options.forkSlots,
    warmKernels: options.warmKernels,
    seccompOptOut: options.seccompOptOut,
    log,
  });
  const progress =
    options.prebuildProgress ??
    ((id: string, event: { line: string } | { readyMs: number }) =>
      'line' in event
        ? logger.info({ template: id, step: event.line }, 'template build')
        : logger.info({ template: id, ms: event.readyMs }, 'template ready'));
  for (const id of options.prebuild ?? []) {
    if (!options.prebuildProgress) {
      logger.info({ template: id }, 'preparing template (first build runs debootstrap, about 2 minutes)');
    }
    const started = performance.now();
    // The build's own steps, so a first build that takes minutes is never silent.
    await engine.ensureTemplate({ id, onProgress: (line) => progress(id, { line }) });
    progress(id, { readyMs: Math.round(performance.now() - started) });
  }
  let selfUrl = '';
  const mounts = options.mounts?.({ url: () => selfUrl }) ?? [];
  const workspaces = openWorkspaces({ stateDir, db, engine, encryptionKeyFile: options.workspaceKeyFile });
  const server = await startServer({
    mounts,
    engine,
    workspaces,
    db,
    host: options.host,
    port: options.port,
    apiKeys,
    maxExecTimeoutSeconds: options.maxExecTimeoutSeconds,
    maxStreamsPerSandbox: options.maxStreamsPerSandbox,
    defaultLifetimeSeconds: options.defaultLifetimeSeconds,
    previewTtlSeconds: options.previewTtlSeconds,
    previewDomain: options.previewDomain,
    e2bDomain: options.e2bDomain,
    logger,
  });
  selfUrl = server.url;
  logger.info(
    {
      url: server.url,
      mounts: mounts.map((m) => m.path),
      state_dir: stateDir,
      engine: engine.name,
      ...describeEngine(engine),
      auth: apiKeys.length > 0,
    },
    'mitos server listening',
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info(
        { signal },
        engine.name === 'microvm'
          ? 'shutting down; microVM sandboxes end with the server'
          : 'shutting down; sandboxes keep running and are reattached on next start',
      );
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await engine.close();
  db.close();
}
