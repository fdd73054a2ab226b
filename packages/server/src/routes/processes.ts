/**
 * Background processes (docs/api-extensions.md): start one that outlives the request, list a
 * sandbox's processes, signal one, and attach to a tracked one's output as an exec-style NDJSON
 * stream. Detaching (closing the stream) never touches the process.
 */
import type { ProcessHandle, ProcessInfo } from '@mitos/engine';
import {
  MitosError,
  ProcessStreamRequestSchema,
  SignalProcessRequestSchema,
  StartProcessRequestSchema,
} from '@mitos/protocol';
import { clientSignal } from '../client-signal.js';
import type { SandboxRouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { readJson } from '../json-body.js';
import { requireRunningSandbox, sandboxIdOf } from '../lookup.js';
import type { Router } from '../routing.js';
import { chunkLine, exitLine, failureLine } from '../streaming/exec-lines.js';
import { leasedNdjsonResponse, type NdjsonWriter } from '../streaming/ndjson.js';
import { commandOf } from './exec.js';

const SIGKILL = 9;

export interface ProcessRecord {
  pid: number;
  command: string;
  tracked: boolean;
  started_at?: string;
}

export function registerProcessRoutes(router: Router, { engine, streams }: SandboxRouteDeps): void {
  const failed = (sandbox: string) => (err: unknown) => {
    throw engineFailure(err, 'exec_failed', { sandbox });
  };

  router.route('/v1/processes', {
    POST: async (c) => {
      const body = readJson(c, StartProcessRequestSchema);
      sandboxIdOf(c, body.sandbox);
      const handle = await engine
        .startProcess(body.sandbox, { ...commandOf(body), timeoutMs: 0 })
        .catch(failed(body.sandbox));
      return c.json({ pid: handle.pid });
    },
    GET: async (c) => {
      const sandbox = sandboxIdOf(c, c.req.query('sandbox') ?? '');
      const processes = await engine.listProcesses(sandbox).catch(failed(sandbox));
      return c.json({ processes: processes.map(toProcessRecord) });
    },
  });

  router.route('/v1/processes/signal', {
    POST: async (c) => {
      const body = readJson(c, SignalProcessRequestSchema);
      sandboxIdOf(c, body.sandbox);
      await engine.signalProcess(body.sandbox, body.pid, body.signal ?? SIGKILL).catch(failed(body.sandbox));
      return c.json({ status: 'ok' });
    },
  });

  router.route('/v1/processes/stream', {
    POST: (c) => {
      const body = readJson(c, ProcessStreamRequestSchema);
      requireRunningSandbox(c, engine, body.sandbox);
      const handle = engine.getProcess(body.sandbox, body.pid);
      if (handle === undefined) {
        throw new MitosError('not_found', `no tracked process ${body.pid} in sandbox "${body.sandbox}"`, {
          sandbox: body.sandbox,
          pid: body.pid,
        });
      }
      return leasedNdjsonResponse(streams, body.sandbox, clientSignal(c), (out, lease) =>
        attach(handle, out, lease.signal, body.follow !== false),
      );
    },
  });
}

/** Replays the output so far, follows it live (unless told not to), and ends with the exit; never signals the process. */
function attach(handle: ProcessHandle, out: NdjsonWriter, sandboxGone: AbortSignal, follow: boolean): void {
  let detached = false;
  let unsubscribe: (() => void) | undefined;
  const detach = () => {
    detached = true;
    unsubscribe?.();
  };
  unsubscribe = handle.subscribe({
    onStdout: (chunk) => out.send(chunkLine('stdout', chunk)),
    onStderr: (chunk) => out.send(chunkLine('stderr', chunk)),
    onExit: (result) => {
      out.send(exitLine(result));
      out.end();
      detach();
    },
  });
  // The replay may already have delivered the exit, during subscribe() itself.
  if (detached) {
    unsubscribe();
    return;
  }
  // Not following: the replay was the answer; a stream without an exit line means "still running".
  if (!follow) {
    out.end();
    detach();
    return;
  }
  const onGone = () => {
    out.send(failureLine(sandboxGone.reason));
    out.end();
    detach();
  };
  if (out.signal.aborted) detach();
  else if (sandboxGone.aborted) onGone();
  else {
    out.signal.addEventListener('abort', detach, { once: true });
    sandboxGone.addEventListener('abort', onGone, { once: true });
  }
}

export function toProcessRecord(info: ProcessInfo): ProcessRecord {
  const out: ProcessRecord = { pid: info.pid, command: info.command, tracked: info.tracked };
  if (info.startedAt) out.started_at = info.startedAt.toISOString();
  return out;
}
