/**
 * A real mitos server on a real Linux engine, on a throwaway state directory and a cgroup
 * parent of its own, and a clean-up that leaves nothing behind (sandboxes, btrfs loop volume,
 * cgroups, files). The server listens on loopback only.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LinuxEngine } from '@mitos/engine';
import * as thisEngine from '@mitos/engine';
import * as thisServer from '@mitos/server';
import { removeCgroupParent } from '../host/cgroup-parent.js';
import { describeError, log } from '../log.js';

export interface BenchEnv {
  url: string;
  /** A key made for this run only; the server accepts nothing else. */
  apiKey: string;
  /** The run's key for the E2B surface (`e2b_<hex>`), configured alongside `apiKey`. */
  e2bApiKey: string;
  engine: LinuxEngine;
  stateDir: string;
  cgroupParent: string;
  /** Human-readable engine label, e.g. "Linux driver (namespaces + btrfs)". */
  engineLabel: string;
  close(): Promise<void>;
}

type EngineModule = typeof thisEngine;
type ServerModule = typeof thisServer;

/**
 * The engine and server of another built checkout, loaded from its own dist and node_modules.
 * Only the entry points this file calls are needed, and they have kept their shape; an older
 * build without workspaces runs without them.
 */
async function loadBuild(checkout: string): Promise<{ engine: EngineModule; server: ServerModule }> {
  const entry = (pkg: string) => pathToFileURL(resolve(checkout, 'packages', pkg, 'dist', 'index.js')).href;
  try {
    return {
      engine: (await import(entry('engine'))) as EngineModule,
      server: (await import(entry('server'))) as ServerModule,
    };
  } catch (err) {
    throw new Error(`--baseline ${checkout}: not a built mitos checkout (${describeError(err)})`);
  }
}

/**
 * `build`: the checkout of another mitos build to serve instead of this one (`--baseline`).
 * `warmKernels`: the engine option (true: python kernels in every pooled sandbox; false: none;
 * absent: the engine's default, where run_code is in recent use).
 */
/** As `mitos serve` (runtime DEFAULT_FORK_SLOTS): fork children launched ahead. */
const DEFAULT_FORK_SLOTS = 2;

export async function startBenchEnv(
  warmPoolSize: number,
  build?: string,
  { warmKernels, forkSlots = DEFAULT_FORK_SLOTS }: { warmKernels?: boolean; forkSlots?: number } = {},
): Promise<BenchEnv> {
  const mods = build ? await loadBuild(build) : { engine: thisEngine, server: thisServer };
  const { LinuxEngine, openDatabase } = mods.engine;
  const { createLogger, startServer } = mods.server;
  // Short and under /tmp: the engine's unix socket paths must stay under 108 bytes.
  const stateDir = mkdtempSync(build ? '/tmp/mitos-bench-base-' : '/tmp/mitos-bench-');
  const cgroupParent = `${build ? 'mitos-bench-base' : 'mitos-bench'}-${basename(stateDir).slice(-6)}`;
  const db = openDatabase(join(stateDir, 'mitos.db'));
  const apiKey = `bench-${randomBytes(16).toString('hex')}`;
  const e2bApiKey = `e2b_${randomBytes(20).toString('hex')}`;
  let engine: LinuxEngine | undefined;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      await step('stop the server', () => server?.close());
      if (engine) {
        const opened = engine;
        for (const s of opened.list()) await step(`terminate ${s.id}`, () => opened.terminate(s.id));
        await step('drain the warm pool', () => opened.drainPool());
        await step('destroy storage', () => opened.storage.destroy());
        await step('close the engine', () => opened.close());
      }
      const left = removeCgroupParent(cgroupParent);
      if (left.length > 0) log(`cgroups left behind: ${left.join(' ')}`);
      db.close();
      rmSync(stateDir, { recursive: true, force: true });
    })();
    return closing;
  };

  try {
    engine = await LinuxEngine.open({ stateDir, cgroupParent, db, warmPoolSize, warmKernels, forkSlots });
    // The default logger writes a JSON line per request, which would be thousands of lines here.
    const logger = createLogger();
    logger.level = 'silent';
    const { BlobStore, LocalBackend, Workspaces } = mods.engine;
    const workspaces =
      Workspaces &&
      new Workspaces({
        engine,
        db,
        store: new BlobStore(new LocalBackend(join(stateDir, 'workspaces'))),
      });
    server = await startServer({
      engine,
      db,
      workspaces,
      host: '127.0.0.1',
      port: 0,
      apiKeys: [apiKey, e2bApiKey],
      logger,
    });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: server.url,
    apiKey,
    e2bApiKey,
    engine,
    stateDir,
    cgroupParent,
    engineLabel: `Linux driver (namespaces + ${engine.storage.kind}, warm pool ${warmPoolSize}${KERNELS_LABEL[String(warmKernels)]})${build ? `, build at ${build}` : ''}`,
    close,
  };
}

const KERNELS_LABEL: Record<string, string> = {
  true: ', python kernels started in every pool',
  false: ', no kernel started ahead',
  undefined: '',
};

/** One clean-up step: a failure is reported and the remaining steps still run. */
async function step(what: string, fn: () => Promise<unknown> | undefined): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log(`clean-up: ${what} failed: ${describeError(err)}`);
  }
}
