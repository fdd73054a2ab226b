/**
 * Exec on a warm sandbox: the round trip of `true` from the TS SDK, from httpx (the seed Python
 * SDK's HTTP client) and over Connect, and throughput with many concurrent callers. The SDK and
 * httpx clients run in processes of their own, so the server's event loop does nothing else;
 * the same calls straight into the engine (no HTTP) show what HTTP, JSON and the SDK cost.
 * @module
 */
import type { Sandbox } from '@mitos/sdk';
import { nodeClient, PYTHON_CLIENTS, runClient } from '../clients/run-client.js';
import type { SdkExecJob, SdkExecReport } from '../clients/sdk-exec.js';
import type { BenchEnv } from '../mitos/bench-env.js';
import { newSandbox } from '../mitos/client.js';
import { connectExec } from '../mitos/connect-exec.js';
import type { Sizes } from '../options.js';
import type { Recorder } from '../results.js';
import { single, summarize } from '../stats.js';
import { sampleRuns, timed } from '../timing.js';
import { closedLoop, type LoadResult } from './load.js';

export async function runExec(rec: Recorder, env: BenchEnv, sizes: Sizes): Promise<void> {
  const sb = await newSandbox(env);
  try {
    await fromSdk(rec, env, sb, sizes);
    await fromHttpx(rec, env, sb, sizes);
    await overConnect(rec, env, sb, sizes);
    await intoEngine(rec, env, sb, sizes);
  } finally {
    await sb.terminate().catch(() => {});
  }
}

async function fromSdk(rec: Recorder, env: BenchEnv, sb: Sandbox, sizes: Sizes): Promise<void> {
  const job: SdkExecJob = {
    url: env.url,
    apiKey: env.apiKey,
    sandbox: sb.id,
    runs: sizes.execRuns,
    warmup: sizes.execWarmup,
    callers: sizes.throughputClients,
    seconds: sizes.throughputSeconds,
  };
  const report = await runClient<SdkExecReport>(process.execPath, [nodeClient('sdk-exec'), JSON.stringify(job)]);
  rec.add({
    id: 'exec.rt',
    section: 'exec',
    subject: 'mitos',
    label: 'exec round trip of `true` on a warm sandbox (TS SDK over loopback HTTP, client in its own process)',
    unit: 'ms',
    summary: summarize(report.samples),
    reproduce: "await sb.exec('true')",
    note: `Server-Timing: ${report.serverTiming || 'none'}`,
  });
  recordLoad(rec, 'exec.throughput', report.load, {
    label: `exec throughput, ${job.callers} concurrent callers on one sandbox (calls completed per 1 s window)`,
    reproduce: `${job.callers} loops of \`await sb.exec('true')\` for ${job.seconds} s, in a client process`,
  });
  rec.add({
    id: 'exec.loaded',
    section: 'exec',
    subject: 'mitos',
    label: `  exec round trip under that load (${job.callers} in flight)`,
    unit: 'ms',
    summary: summarize(report.load.latencies),
    reproduce: "await sb.exec('true')",
  });
}

async function fromHttpx(rec: Recorder, env: BenchEnv, sb: Sandbox, sizes: Sizes): Promise<void> {
  const args = [
    `${PYTHON_CLIENTS}httpx_exec.py`,
    env.url,
    env.apiKey,
    sb.id,
    `${sizes.execRuns}`,
    `${sizes.execWarmup}`,
  ];
  // Debian's python3, where python3-httpx is installed (not whatever python3 is first on PATH).
  const report = await runClient<{ samples: number[]; serverTiming: string[] }>('/usr/bin/python3', args);
  rec.add({
    id: 'exec.httpx',
    section: 'exec',
    subject: 'mitos',
    label: "  the same exec from httpx, the seed Python SDK's client (keep-alive; headers and body sent apart)",
    unit: 'ms',
    summary: summarize(report.samples),
    reproduce: "httpx.Client().post('/v1/exec', json={'sandbox': id, 'command': 'true'})",
  });
}

async function overConnect(rec: Recorder, env: BenchEnv, sb: Sandbox, sizes: Sizes): Promise<void> {
  const exec = connectExec(env, sb.id);
  const samples = await sampleRuns(sizes.execRuns, sizes.execWarmup, async () => {
    const { ms, value } = await timed(() => exec('true'));
    if (value !== 0) throw new Error('true did not exit 0');
    return ms;
  });
  rec.add({
    id: 'exec.connect',
    section: 'exec',
    subject: 'mitos',
    label:
      "  the same exec over Connect (sandbox.v1 ExecStream, JSON, HTTP/1.1: the 0.3.x clients' wire; client in the server's process)",
    unit: 'ms',
    summary: summarize(samples),
    reproduce: "client.execStream({ command: 'true' }, { headers: { 'X-Sandbox-Id': id } })",
  });
}

async function intoEngine(rec: Recorder, env: BenchEnv, sb: Sandbox, sizes: Sizes): Promise<void> {
  const direct = async () => expectTrue(await env.engine.exec(sb.id, { command: 'true', timeoutMs: 30_000 }));
  const samples = await sampleRuns(sizes.execRuns, sizes.execWarmup, async () => (await timed(direct)).ms);
  rec.add({
    id: 'exec.engine',
    section: 'exec',
    subject: 'mitos',
    label: '  the same exec called on the engine in-process (agent over its unix socket, no HTTP)',
    unit: 'ms',
    summary: summarize(samples),
    reproduce: "await engine.exec(id, { command: 'true', timeoutMs: 30000 })",
  });
  // The same load without HTTP tells whether the server side or the agent is the limit.
  const load = await closedLoop(sizes.throughputClients, sizes.throughputSeconds * 1000, direct);
  recordLoad(rec, 'exec.throughput.engine', load, {
    label: `  the same ${sizes.throughputClients} callers on the engine in-process (no HTTP)`,
    reproduce: `${sizes.throughputClients} loops of \`await engine.exec(id, { command: 'true' })\``,
  });
}

function recordLoad(rec: Recorder, id: string, load: LoadResult, text: { label: string; reproduce: string }): void {
  const overall = load.calls / (load.durationMs / 1000);
  rec.add({
    id,
    section: 'exec',
    subject: 'mitos',
    ...text,
    unit: 'calls/s',
    summary: load.perSecond.length > 0 ? summarize(load.perSecond) : single(overall),
    note: `${load.calls} calls in ${(load.durationMs / 1000).toFixed(1)} s = ${overall.toFixed(0)} calls/s overall`,
  });
}

function expectTrue(result: { exitCode: number }): void {
  if (result.exitCode !== 0) throw new Error(`true exited ${result.exitCode}`);
}
