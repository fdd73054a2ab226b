/**
 * The TS SDK's exec, driven from its own process so the server's event loop serves requests
 * and nothing else (the bench's main process runs the server). Prints one JSON object.
 *
 * usage: node sdk-exec.js '{"url":…,"apiKey":…,"sandbox":…,"runs":N,"warmup":N,"callers":N,"seconds":S}'
 * Round trips first (one caller), then `callers` closed loops for `seconds`.
 * @module
 */
import { Sandbox } from '@mitos/sdk';
import { closedLoop } from '../sections/load.js';
import { sampleRuns, timed } from '../timing.js';

export interface SdkExecJob {
  url: string;
  apiKey: string;
  sandbox: string;
  runs: number;
  warmup: number;
  callers: number;
  seconds: number;
}

export interface SdkExecReport {
  samples: number[];
  /** The last round trip's Server-Timing header. */
  serverTiming: string;
  load: Awaited<ReturnType<typeof closedLoop>>;
}

async function main(job: SdkExecJob): Promise<SdkExecReport> {
  const sb = await Sandbox.connect(job.sandbox, { baseUrl: job.url, apiKey: job.apiKey });
  const call = async () => {
    const r = await sb.exec('true');
    if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
  };
  const samples = await sampleRuns(job.runs, job.warmup, async () => (await timed(call)).ms);
  const serverTiming = await lastServerTiming(job);
  // One untimed second at full concurrency opens every keep-alive connection first.
  await closedLoop(job.callers, 1000, call);
  const load = await closedLoop(job.callers, job.seconds * 1000, call);
  return { samples, serverTiming, load };
}

async function lastServerTiming(job: SdkExecJob): Promise<string> {
  const res = await fetch(`${job.url}/v1/exec`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${job.apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ sandbox: job.sandbox, command: 'true' }),
  });
  await res.arrayBuffer();
  return res.headers.get('server-timing') ?? '';
}

main(JSON.parse(process.argv[2] ?? '{}') as SdkExecJob).then(
  (report) => process.stdout.write(JSON.stringify(report)),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
