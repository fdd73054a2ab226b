/**
 * The TS SDK's create-then-first-command, timed in a process of its own so the server's event
 * loop serves requests and nothing else (the bench's main process runs the server). It stays up
 * for a whole startup section: each IPC message asks for one timed run, so the runs still take
 * turns with the other contenders. It exits when the bench disconnects.
 *
 * usage: child_process.fork('tti.js', [JSON.stringify({ url, apiKey, shell })]), then send
 * `'run'` and receive a `TtiReply` per run.
 * @module
 */
import { create, type ExecResult } from '@mitos/sdk';
import { TEMPLATE } from '../mitos/client.js';

export interface TtiJob {
  url: string;
  apiKey: string;
  shell: string;
}

export interface TtiSample {
  ms: number;
  parts: { create: number; engine: number; firstExec: number; secondExec: number };
  result: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>;
}

export type TtiReply = { ok: true; sample: TtiSample } | { ok: false; error: string };

async function runOnce(job: TtiJob): Promise<TtiSample> {
  const t0 = performance.now();
  const sb = await create(TEMPLATE, { baseUrl: job.url, apiKey: job.apiKey });
  const t1 = performance.now();
  try {
    const result = await sb.exec(job.shell);
    const t2 = performance.now();
    await sb.exec(job.shell);
    const again = performance.now() - t2;
    return {
      ms: t2 - t0,
      parts: { create: t1 - t0, engine: sb.forkTimeMs, firstExec: t2 - t1, secondExec: again },
      result: { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr },
    };
  } finally {
    await sb.terminate().catch(() => {});
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as TtiJob;
const send = (reply: TtiReply) => process.send?.(reply);
process.on('message', (msg) => {
  if (msg !== 'run') return;
  runOnce(job).then(
    (sample) => send({ ok: true, sample }),
    (err: unknown) => send({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
