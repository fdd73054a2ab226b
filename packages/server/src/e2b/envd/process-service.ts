/**
 * envd's `process.Process` service over the engine's tracked processes. Commands run as the
 * call's account (the agent takes its ids before the command starts); a client that disconnects leaves its process running
 * (E2B's `disconnect()` semantics), and Connect re-attaches with the output kept so far.
 */

import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import type { ExecResult, ProcessHandle } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { type Accounts, accountEnv, asAccount, homeOf, resolvePath } from '../accounts.js';
import type { E2bContext } from '../context.js';
import { toConnectError } from '../errors.js';
import type { Process, ProcessEventSchema, ProcessSelector } from '../gen/process/process_pb.js';
import { EventQueue } from './output-queue.js';
import type { E2bProcesses } from './process-registry.js';
import { ENVD_CALL, type EnvdCall } from './request.js';

/** One streamed event (StartResponse and ConnectResponse have the same shape). */
type EventInit = { event: MessageInitShape<typeof ProcessEventSchema> };

export function callOf(hctx: HandlerContext): EnvdCall {
  const call = hctx.values.get(ENVD_CALL);
  if (call === undefined) throw new MitosError('internal', 'envd call without a sandbox');
  return call;
}

/** Wraps each handler so every failure reaches the client as a typed ConnectError. */
function guarded<A extends unknown[], R>(ctx: E2bContext, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw toConnectError(err, ctx.logger);
    }
  };
}

export function processService(
  ctx: E2bContext,
  accounts: Accounts,
  registry: E2bProcesses,
): ServiceImpl<typeof Process> {
  const handleOf = (call: EnvdCall, selector: ProcessSelector | undefined): ProcessHandle => {
    const pid = registry.resolve(call.sandboxId, selector?.selector ?? { case: undefined });
    const handle = ctx.engine.getProcess(call.sandboxId, pid);
    if (handle === undefined) throw new MitosError('not_found', `process ${pid} not found`);
    return handle;
  };

  async function* follow(
    call: EnvdCall,
    handle: ProcessHandle,
    pty: boolean,
    signal: AbortSignal,
  ): AsyncGenerator<EventInit> {
    const queue = new EventQueue<EventInit>();
    yield { event: { event: { case: 'start', value: { pid: handle.pid } } } };
    const unsubscribe = handle.subscribe({
      onStdout: (d) =>
        queue.push({
          event: { event: { case: 'data', value: { output: { case: pty ? 'pty' : 'stdout', value: d } } } },
        }),
      onStderr: (d) =>
        queue.push({ event: { event: { case: 'data', value: { output: { case: 'stderr', value: d } } } } }),
      onExit: (r) => {
        queue.push({ event: { event: { case: 'end', value: endEvent(r) } } });
        queue.end();
      },
    });
    try {
      yield* queue.drain(signal, call.keepaliveSeconds * 1000, () => ({
        event: { event: { case: 'keepalive', value: {} } },
      }));
    } finally {
      unsubscribe();
    }
  }

  return {
    list: guarded(ctx, async (_req, hctx) => {
      const call = callOf(hctx);
      const running = await ctx.engine.listProcesses(call.sandboxId);
      const processes = running.flatMap((p) => {
        const started = p.tracked ? registry.get(call.sandboxId, p.pid) : undefined;
        if (started === undefined) return [];
        return [
          {
            pid: p.pid,
            tag: started.tag,
            config: { cmd: started.cmd, args: started.args, envs: started.envs, cwd: started.cwd },
          },
        ];
      });
      return { processes };
    }),

    async *start(req, hctx) {
      let call: EnvdCall;
      let handle: ProcessHandle;
      const pty = req.pty?.size !== undefined;
      try {
        call = callOf(hctx);
        await accounts.ready(call.sandboxId);
        const config = req.process;
        if (config === undefined || config.cmd === '')
          throw new MitosError('invalid_request', 'process.cmd is required');
        const cwd = config.cwd ? resolvePath(call.account, config.cwd) : homeOf(call.account);
        const size = req.pty?.size;
        handle = await ctx.engine.startProcess(call.sandboxId, {
          ...asAccount(call.account, [config.cmd, ...config.args]),
          cwd,
          env: { ...accountEnv(call.account), ...(pty && { TERM: 'xterm-256color' }), ...call.envVars, ...config.envs },
          timeoutMs: 0,
          ...(size && { pty: { cols: size.cols || 80, rows: size.rows || 24 } }),
          stdin: req.stdin === true || pty,
        });
        registry.add(call.sandboxId, {
          pid: handle.pid,
          cmd: config.cmd,
          args: [...config.args],
          envs: { ...config.envs },
          cwd,
          tag: req.tag,
          pty,
        });
        ctx.events.add(call.sandboxId, 'process started', {
          pid: String(handle.pid),
          cmd: config.args.at(-1) ?? config.cmd,
        });
        handle.wait().then(
          (r) =>
            ctx.events.add(call.sandboxId, 'process ended', { pid: String(handle.pid), exit_code: String(r.exitCode) }),
          () => {},
        );
      } catch (err) {
        throw toConnectError(err, ctx.logger);
      }
      yield* follow(call, handle, pty, hctx.signal);
    },

    async *connect(req, hctx) {
      let call: EnvdCall;
      let handle: ProcessHandle;
      try {
        call = callOf(hctx);
        handle = handleOf(call, req.process);
      } catch (err) {
        throw toConnectError(err, ctx.logger);
      }
      const pty = registry.get(call.sandboxId, handle.pid)?.pty ?? false;
      yield* follow(call, handle, pty, hctx.signal);
    },

    update: guarded(ctx, async (req, hctx) => {
      const size = req.pty?.size;
      if (size === undefined) throw new MitosError('invalid_request', 'pty.size is required');
      handleOf(callOf(hctx), req.process).resize(size.cols, size.rows);
      return {};
    }),

    sendInput: guarded(ctx, async (req, hctx) => {
      const input = req.input?.input;
      if (input === undefined || input.case === undefined) throw new MitosError('invalid_request', 'input is required');
      handleOf(callOf(hctx), req.process).write(Buffer.from(input.value));
      return {};
    }),

    streamInput: guarded(ctx, async (requests, hctx) => {
      const call = callOf(hctx);
      let handle: ProcessHandle | undefined;
      for await (const msg of requests) {
        const ev = msg.event;
        if (ev.case === 'start') handle = handleOf(call, ev.value.process);
        else if (ev.case === 'data') {
          if (handle === undefined) throw new MitosError('invalid_request', 'stream input data before its start event');
          const input = ev.value.input?.input;
          if (input !== undefined && input.case !== undefined) handle.write(Buffer.from(input.value));
        }
      }
      return {};
    }),

    sendSignal: guarded(ctx, async (req, hctx) => {
      const call = callOf(hctx);
      if (req.signal !== 9 && req.signal !== 15)
        throw new MitosError('invalid_request', 'signal must be SIGKILL or SIGTERM');
      const pid = registry.resolve(call.sandboxId, req.process?.selector ?? { case: undefined });
      await ctx.engine.signalProcess(call.sandboxId, pid, req.signal);
      return {};
    }),

    closeStdin: guarded(ctx, async (req, hctx) => {
      handleOf(callOf(hctx), req.process).closeStdin();
      return {};
    }),
  };
}

function endEvent(r: ExecResult) {
  // The engine reports a signal death as 128 + signal, as a shell would.
  const signalled = r.exitCode > 128 && r.exitCode < 160;
  return {
    exitCode: r.exitCode,
    exited: !signalled,
    status: signalled ? `signal: ${r.exitCode - 128}` : `exit status ${r.exitCode}`,
  };
}
