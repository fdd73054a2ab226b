/**
 * GET /sandbox.v1.Sandbox/Exec as a WebSocket (subprotocol connect.sandbox.v1): the bidi
 * Exec for clients that only have HTTP/1.1, which is how the current clients open a
 * terminal. Refusals before the upgrade are ordinary envelopes (400 no sandbox, 401, 404,
 * 409 paused, 429 stream cap). After it, the first message must be the `open` ExecRequest;
 * the command's output goes out as ExecResponse messages and the `exit` one carries the
 * end-of-stream flag, then the socket closes 1000. A client that closes kills the command.
 */

import { MitosError } from '@mitos/protocol';
import type { Context } from 'hono';
import type { WebSocket, WebSocketServer } from 'ws';
import type { AppEnv, RouteDeps } from '../env.js';
import { requireRunningSandbox } from '../lookup.js';
import { acceptWebSocket, createTerminalSocketServer } from '../pty/websocket.js';
import { upgradedResponse, upgradeOf } from '../upgrade.js';
import { decodeExecRequest, encodeExecResponse } from './envelope.js';
import { toConnectError } from './errors.js';
import { type ExecReply, failureReply, runProcess, startExec } from './exec.js';
import type { ExecRequest } from './gen/sandbox/v1/sandbox_pb.js';

export const CONNECT_WS_SUBPROTOCOL = 'connect.sandbox.v1';
/** How long a client has to send `open` after the upgrade. */
const OPEN_TIMEOUT_MS = 30_000;

export function createExecSocketServer(): WebSocketServer {
  return createTerminalSocketServer(CONNECT_WS_SUBPROTOCOL);
}

export async function execOverWebSocket(
  c: Context<AppEnv>,
  deps: RouteDeps,
  sockets: WebSocketServer,
): Promise<Response> {
  const sandboxId = c.req.query('sandbox') ?? '';
  if (sandboxId === '') throw new MitosError('invalid_json', 'the sandbox query parameter is required');
  requireRunningSandbox(c, deps.engine, sandboxId);
  const upgrade = upgradeOf(c);
  if (upgrade === undefined) {
    throw new MitosError(
      'invalid_request',
      `GET /sandbox.v1.Sandbox/Exec is a WebSocket endpoint (subprotocol ${CONNECT_WS_SUBPROTOCOL}); POST for Connect`,
    );
  }
  // Checked before the upgrade so a full sandbox is a 429, not a socket that closes at once.
  deps.streams.acquire(sandboxId).release();
  upgrade.claim();
  const ws = await acceptWebSocket(sockets, upgrade);
  if (ws !== undefined) serveSession(ws, sandboxId, deps);
  return upgradedResponse();
}

function serveSession(ws: WebSocket, sandboxId: string, deps: RouteDeps): void {
  let ended = false;
  let release = () => {};
  const send = (reply: ExecReply, end = false) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeExecResponse(reply, end));
  };
  const finish = (reply: ExecReply, code: number) => {
    if (ended) return;
    ended = true;
    send(reply, true);
    ws.close(code);
  };
  const fail = (err: unknown) => {
    const error = toConnectError(err, 'exec_failed', { sandbox: sandboxId });
    finish({ msg: { case: 'exit', value: { exitCode: 1, error: error.rawMessage } } }, 1011);
  };
  const openTimer = setTimeout(
    () => fail(new MitosError('invalid_request', 'no `open` ExecRequest arrived')),
    OPEN_TIMEOUT_MS,
  );
  let started: Awaited<ReturnType<typeof startExec>> | undefined;
  let starting = false;
  // Input that arrives while the command is still starting, applied once it has.
  const early: ExecRequest[] = [];

  ws.on('message', (data, isBinary) => {
    if (ended) return;
    let request: ExecRequest;
    try {
      if (!isBinary) throw new Error('messages must be binary Connect envelopes');
      request = decodeExecRequest(data as Buffer);
    } catch (err) {
      fail(new MitosError('invalid_json', `bad ExecRequest: ${(err as Error).message}`));
      return;
    }
    if (started) {
      started.input(request);
      return;
    }
    if (starting) {
      early.push(request);
      return;
    }
    if (request.msg.case !== 'open') {
      fail(new MitosError('invalid_json', 'the first ExecRequest must carry `open`'));
      return;
    }
    starting = true;
    clearTimeout(openTimer);
    startExec(deps, sandboxId, request.msg.value).then(
      (exec) => {
        started = exec;
        release = exec.release;
        if (ended) return release();
        for (const request of early.splice(0)) exec.input(request);
        void pipeReplies(runProcess(exec.handle, exec.lease.signal, new AbortController().signal), send, finish).catch(
          fail,
        );
      },
      (err: unknown) => fail(err),
    );
  });
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    clearTimeout(openTimer);
    ended = true;
    release();
  });
}

async function pipeReplies(
  replies: AsyncIterable<ExecReply>,
  send: (reply: ExecReply) => void,
  finish: (reply: ExecReply, code: number) => void,
): Promise<void> {
  for await (const reply of replies) {
    if (reply.msg?.case === 'exit') {
      finish(reply, reply.msg.value.error ? 1011 : 1000);
      return;
    }
    send(reply);
  }
  finish(failureReply(new MitosError('internal', 'the command ended without an exit status')), 1011);
}
