/**
 * One benchmark run: start what the selected sections need (a mitos server, the peers), run the
 * sections in a fixed order, and always clean up, also on SIGINT/SIGTERM. A failing section is
 * recorded as a note and the others still run.
 * @module
 */

import { type FakeInternet, startFakeInternet } from '@mitos/testkit';
import { restoreDevices, snapshotDevices } from './host/trace.js';
import { describeError, log } from './log.js';
import { type BenchEnv, startBenchEnv } from './mitos/bench-env.js';
import { prepareTemplate } from './mitos/client.js';
import { type BenchOptions, SECTIONS, type SectionName } from './options.js';
import type { Contender } from './peers/contender.js';
import { setupPeers, setupPodmanPeer } from './peers/index.js';
import type { Recorder } from './results.js';
import { cliBaselineContender, cliContenders } from './sections/cli-contenders.js';
import { runConsole } from './sections/console.js';
import { runDensity } from './sections/density.js';
import { e2bContenders } from './sections/e2b-contender.js';
import { runExec } from './sections/exec.js';
import { runFork } from './sections/fork.js';
import { mitosContender } from './sections/mitos-contenders.js';
import { runNetwork } from './sections/network.js';
import { runPageCache } from './sections/page-cache.js';
import { runRunCode } from './sections/run-code.js';
import { runStartup } from './sections/startup.js';
import { runTemplates } from './sections/templates.js';
import { runWorkspace } from './sections/workspace.js';

/** Every section but the peers' own measures mitos. */
const MITOS_SECTIONS: readonly SectionName[] = SECTIONS.filter((s) => s !== 'peers');
const DEFAULT_ENGINE_LABEL = 'Linux driver (namespaces + btrfs)';

/** Runs the selected sections into `rec`; returns the label of the engine that was measured. */
export async function runBench(options: BenchOptions, rec: Recorder): Promise<string> {
  const { sections, sizes } = options;
  const devices = snapshotDevices();
  const cleanups: Array<() => unknown> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const c of cleanups.reverse()) await c();
    })();
    return cleaning;
  };
  // An interrupted run must still unmount its btrfs volume and remove its cgroups.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const section = async (name: string, fn: () => Promise<void>) => {
    log(`section ${name}`);
    try {
      await fn();
    } catch (err) {
      log(`section ${name} failed: ${describeError(err)}`);
      rec.note(`section ${name} failed: ${describeError(err)}`);
    }
  };

  try {
    let env: BenchEnv | undefined;
    let inet: FakeInternet | undefined;
    if (sections.has('network')) {
      // Before the server opens: its resolver forwards to the fake internet's DNS server.
      inet = await startFakeInternet();
      cleanups.push(inet.stop);
      process.env.MITOS_DNS_UPSTREAM = `${inet.dns.host}:${inet.dns.port}`;
    }
    if (MITOS_SECTIONS.some((s) => sections.has(s))) {
      env = await startBenchEnv(options.warmPool);
      cleanups.push(env.close);
      log(`server at ${env.url} on ${env.stateDir} (${env.engineLabel}); importing the python template`);
      await prepareTemplate(env);
      // E2B's base and code-interpreter-v1 images (layers built on first use), ready before the clock.
      if (sections.has('e2b'))
        for (const id of ['e2b-base', 'code-interpreter']) await env.engine.ensureTemplate({ id });
    }
    const contenders: Contender[] = [];
    if (env && sections.has('tti')) contenders.push(mitosContender(env, 'echo'), mitosContender(env, 'python'));
    if (env && (sections.has('tti') || sections.has('e2b')) && options.baseline) {
      const base = await startBenchEnv(options.warmPool, options.baseline);
      cleanups.push(base.close);
      log(`baseline server at ${base.url} from ${options.baseline}; importing the python template`);
      await prepareTemplate(base);
      if (sections.has('tti'))
        contenders.push(mitosContender(base, 'echo', true), mitosContender(base, 'python', true));
      if (sections.has('e2b')) contenders.push(...e2bContenders(base, cleanups, true));
    }
    if (env && sections.has('e2b')) contenders.push(...e2bContenders(env, cleanups));
    if (env && sections.has('cli')) contenders.push(...cliContenders(env));
    if (env && sections.has('cli') && options.baseline) contenders.push(cliBaselineContender(env, options.baseline));
    if (sections.has('peers') || sections.has('cli')) {
      const peers = sections.has('peers') ? await setupPeers(rec) : await setupPodmanPeer(rec);
      cleanups.push(peers.close);
      contenders.push(...peers.contenders);
    }
    if (contenders.length > 0) {
      await section('startup', () =>
        runStartup(rec, { contenders, runs: sizes.startupRuns, warmup: sizes.startupWarmup }),
      );
    }
    if (env) {
      const e = env;
      if (sections.has('exec')) await section('exec', () => runExec(rec, e, sizes));
      if (sections.has('runcode')) await section('run_code', () => runRunCode(rec, e, sizes, options.warmPool));
      if (sections.has('fork')) await section('fork', () => runFork(rec, e, sizes));
      if (sections.has('density')) await section('density', () => runDensity(rec, e, sizes));
      if (sections.has('pagecache')) await section('page cache', () => runPageCache(rec, e, sizes));
      if (sections.has('console')) await section('console', () => runConsole(rec, e, sizes));
      if (sections.has('workspace')) await section('workspace', () => runWorkspace(rec, e, sizes.workspaceRuns));
      if (sections.has('templates')) await section('templates', () => runTemplates(rec, e, sizes.templates));
      const fake = inet;
      if (fake) await section('network', () => runNetwork(rec, e, fake, sizes.network));
    }
    return env?.engineLabel ?? DEFAULT_ENGINE_LABEL;
  } finally {
    log('cleaning up');
    await cleanup();
    // Checked last, after every peer and server is gone: the run must leave no trace.
    const changed = restoreDevices(devices);
    for (const c of changed) {
      log(`host changed by this run (restored): ${c}`);
      rec.note(`host changed by this run (restored): ${c}`);
    }
    if (changed.length > 0) process.exitCode = 1;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
