/**
 * RunCode (bidi) and RunCodeStream (server streaming): one cell in the sandbox's stateful
 * interpreter, as RunCodeResponse frames ending with exactly one `exitCode`. Same outcomes as
 * /v1/run_code/stream: a language without an interpreter ends with a KernelUnavailable error
 * and exit 127, any other failure after the call started with KernelStreamError and exit 1.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { CodeError, CodeResult, RunCodeOutcome } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { failureDetail } from '../errors.js';
import { effectiveTimeout } from '../routes/exec.js';
import { DEFAULT_RUN_CODE_TIMEOUT_SECONDS } from '../routes/run-code.js';
import { KERNEL_UNAVAILABLE_EXIT } from '../streaming/code-frames.js';
import { startAccepted } from './accepted.js';
import { Channel } from './channel.js';
import type { RunCodeOpen, RunCodeRequest, RunCodeResponseSchema } from './gen/sandbox/v1/sandbox_pb.js';
import { sandboxIdFrom } from './target.js';

type CodeReply = MessageInitShape<typeof RunCodeResponseSchema>;
type Deps = Pick<RouteDeps, 'engine' | 'streams' | 'maxExecTimeoutSeconds'>;
type Cell = Pick<RunCodeOpen, 'code' | 'language' | 'timeoutSeconds'>;

export function runCodeStream(deps: Deps, req: Cell, ctx: HandlerContext): AsyncIterable<CodeReply> {
  return runCell(deps, req, ctx, new AbortController().signal);
}

/**
 * The bidi RunCode. Our interpreters take no input while a cell runs, so a `stdin` message
 * is refused (the cell is stopped and the call fails unimplemented) rather than dropped.
 */
export async function* runCodeBidi(
  deps: Deps,
  requests: AsyncIterable<RunCodeRequest>,
  ctx: HandlerContext,
): AsyncIterable<CodeReply> {
  const input = requests[Symbol.asyncIterator]();
  const first = await input.next();
  if (first.done || first.value.msg.case !== 'open') {
    throw new MitosError('invalid_json', 'the first RunCodeRequest must carry `open`');
  }
  const refused = new AbortController();
  void (async () => {
    for (;;) {
      const next = await input.next();
      if (next.done) return;
      if (next.value.msg.case === 'stdin') {
        refused.abort(
          new MitosError(
            'not_implemented',
            'stdin to a running cell is not supported by this server',
            {},
            {
              remediation: 'pass input in the code itself, or run the program with Exec, which takes stdin',
            },
          ),
        );
        return;
      }
    }
  })().catch(() => {});
  yield* runCell(deps, first.value.msg.value, ctx, refused.signal);
}

async function* runCell(deps: Deps, cell: Cell, ctx: HandlerContext, refused: AbortSignal): AsyncIterable<CodeReply> {
  const sandboxId = sandboxIdFrom(ctx.requestHeader);
  const requested = Number(cell.timeoutSeconds);
  const timeoutS = effectiveTimeout(
    requested > 0 ? requested : undefined,
    sandboxId,
    deps.maxExecTimeoutSeconds,
    DEFAULT_RUN_CODE_TIMEOUT_SECONDS,
  );
  const out = new Channel<CodeReply>();
  const sent = { stdout: 0, stderr: 0, results: 0 };
  // The engine's lookup is the only one: a refusal before acceptance is the call's error.
  const clientOrRefused = AbortSignal.any([ctx.signal, refused]);
  const { lease, done } = await startAccepted(deps.streams, sandboxId, clientOrRefused, (signal, onAccepted) =>
    deps.engine.runCode(sandboxId, {
      code: cell.code,
      language: cell.language || 'python',
      timeoutMs: timeoutS * 1000,
      signal,
      onAccepted,
      onStdout: (chunk) => {
        sent.stdout += chunk.length;
        out.push({ msg: { case: 'stdout', value: chunk } });
      },
      onStderr: (chunk) => {
        sent.stderr += chunk.length;
        out.push({ msg: { case: 'stderr', value: chunk } });
      },
      onResult: (result) => {
        sent.results += 1;
        out.push(resultReply(result));
      },
    }),
  ).catch((err: unknown) => {
    throw refused.aborted ? refused.reason : err;
  });
  // A refused call ends now; the interpreter may still be finishing the cell.
  const onRefused = () => out.fail(refused.reason);
  refused.addEventListener('abort', onRefused, { once: true });
  try {
    done
      .then((outcome) => {
        if (lease.signal.aborted) throw lease.signal.reason;
        if (refused.aborted) throw refused.reason;
        for (const reply of remainder(outcome, sent)) out.push(reply);
        if (outcome.error) out.push(errorReply(outcome.error));
        out.push({ msg: { case: 'exitCode', value: outcome.exitCode } });
      })
      .catch((err: unknown) => {
        if (refused.aborted) return out.fail(refused.reason);
        const nothingSent = sent.stdout + sent.stderr + sent.results === 0;
        if (nothingSent && isKernelUnavailable(err)) {
          out.push(errorReply({ name: 'KernelUnavailable', value: failureDetail(err), traceback: [] }));
          out.push({ msg: { case: 'exitCode', value: KERNEL_UNAVAILABLE_EXIT } });
        } else {
          const cause = lease.signal.aborted ? lease.signal.reason : err;
          out.push(errorReply({ name: 'KernelStreamError', value: failureDetail(cause), traceback: [] }));
          out.push({ msg: { case: 'exitCode', value: 1 } });
        }
      })
      .finally(() => out.end());
    yield* out;
  } finally {
    refused.removeEventListener('abort', onRefused);
    lease.release();
  }
}

/** Rich output: payloads are the interpreter's strings (base64 already for binary types), as bytes. */
function resultReply(result: CodeResult): CodeReply {
  const data: Record<string, Uint8Array> = {};
  for (const [mime, value] of Object.entries(result.data)) data[mime] = Buffer.from(value, 'utf8');
  return { msg: { case: 'result', value: { text: result.isMainResult ? (result.text ?? '') : '', data } } };
}

function errorReply(error: CodeError): CodeReply {
  return { msg: { case: 'error', value: { name: error.name, value: error.value, traceback: error.traceback } } };
}

/** What the outcome holds beyond what the callbacks delivered, so nothing is lost or sent twice. */
function remainder(outcome: RunCodeOutcome, sent: { stdout: number; stderr: number; results: number }): CodeReply[] {
  const replies: CodeReply[] = [];
  if (outcome.stdout.length > sent.stdout) {
    replies.push({ msg: { case: 'stdout', value: outcome.stdout.subarray(sent.stdout) } });
  }
  if (outcome.stderr.length > sent.stderr) {
    replies.push({ msg: { case: 'stderr', value: outcome.stderr.subarray(sent.stderr) } });
  }
  for (const result of outcome.results.slice(sent.results)) replies.push(resultReply(result));
  return replies;
}

function isKernelUnavailable(err: unknown): boolean {
  return err instanceof MitosError && (err.code === 'invalid_request' || err.code === 'kernel_unavailable');
}
