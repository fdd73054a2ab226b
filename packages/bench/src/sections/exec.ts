/**
 * Exec on a warm sandbox: the SDK round trip of `true`, and throughput with many concurrent
 * callers. Each is also measured straight into the engine (no HTTP), because the difference is
 * what HTTP, JSON and the SDK cost. Server and load generator share this Node process, so the
 * HTTP throughput is bounded by one event loop doing both sides.
 * @module
 */
import type { Sandbox } from '@mitos/sdk';
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
    await roundTrips(rec, env, sb, sizes);
    await throughput(rec, env, sb, sizes);
  } finally {
    await sb.terminate().catch(() => {});
  }
}

async function roundTrips(rec: Recorder, env: BenchEnv, sb: Sandbox, sizes: Sizes): Promise<void> {
  // The /v1 and the Connect round trips alternate call by call, so load on this shared
  // machine lands on both alike.
  const overConnect = connectExec(env, sb.id);
  const viaSdk: number[] = [];
  const viaConnect: number[] = [];
  await sampleRuns(sizes.execRuns, sizes.execWarmup, async () => {
    const sdk = await timed(() => sb.exec('true'));
    const connect = await timed(() => overConnect('true'));
    if (sdk.value.exitCode !== 0 || connect.value !== 0) throw new Error('true did not exit 0');
    viaSdk.push(sdk.ms);
    viaConnect.push(connect.ms);
    return sdk.ms;
  });
  // sampleRuns ran the warm-up through the same function; those samples are not kept.
  viaSdk.splice(0, sizes.execWarmup);
  viaConnect.splice(0, sizes.execWarmup);
  rec.add({
    id: 'exec.rt',
    section: 'exec',
    subject: 'mitos',
    label: 'exec round trip of `true` on a warm sandbox (SDK over loopback HTTP)',
    unit: 'ms',
    summary: summarize(viaSdk),
    reproduce: "await sb.exec('true')",
  });
  rec.add({
    id: 'exec.connect',
    section: 'exec',
    subject: 'mitos',
    label: "  the same exec over Connect (sandbox.v1 ExecStream, JSON, HTTP/1.1: the 0.3.x clients' wire)",
    unit: 'ms',
    summary: summarize(viaConnect),
    reproduce: "client.execStream({ command: 'true' }, { headers: { 'X-Sandbox-Id': id } })",
  });
  const direct = await sampleRuns(sizes.execRuns, sizes.execWarmup, async () => {
    const { ms } = await timed(() => env.engine.exec(sb.id, { command: 'true', timeoutMs: 30_000 }));
    return ms;
  });
  rec.add({
    id: 'exec.engine',
    section: 'exec',
    subject: 'mitos',
    label: '  the same exec called on the engine in-process (agent over its unix socket, no HTTP)',
    unit: 'ms',
    summary: summarize(direct),
    reproduce: "await engine.exec(id, { command: 'true', timeoutMs: 30000 })",
  });
}

async function throughput(rec: Recorder, env: BenchEnv, sb: Sandbox, sizes: Sizes): Promise<void> {
  const callers = sizes.throughputClients;
  const forMs = sizes.throughputSeconds * 1000;
  const viaSdk = async () => expectTrue(await sb.exec('true'));
  const direct = async () => expectTrue(await env.engine.exec(sb.id, { command: 'true', timeoutMs: 30_000 }));
  // One untimed second at full concurrency opens every keep-alive connection first.
  await closedLoop(callers, 1000, viaSdk);
  const sdk = await closedLoop(callers, forMs, viaSdk);
  recordLoad(rec, 'exec.throughput', sdk, {
    label: `exec throughput, ${callers} concurrent callers on one sandbox (calls completed per 1 s window)`,
    reproduce: `${callers} loops of \`await sb.exec('true')\` for ${sizes.throughputSeconds} s`,
  });
  rec.add({
    id: 'exec.loaded',
    section: 'exec',
    subject: 'mitos',
    label: `  exec round trip under that load (${callers} in flight)`,
    unit: 'ms',
    summary: summarize(sdk.latencies),
    reproduce: "await sb.exec('true')",
  });
  // The same load without HTTP tells whether the server side or the agent is the limit.
  const engine = await closedLoop(callers, forMs, direct);
  recordLoad(rec, 'exec.throughput.engine', engine, {
    label: `  the same ${callers} callers on the engine in-process (no HTTP)`,
    reproduce: `${callers} loops of \`await engine.exec(id, { command: 'true' })\``,
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
