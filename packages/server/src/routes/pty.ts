/**
 * GET /v1/pty?sandbox=&cols=&rows= (wire-v1.md 4.18): an interactive shell over a WebSocket
 * (subprotocol mitos.pty.v1). Every refusal happens before the upgrade, as an ordinary
 * envelope: 400 no sandbox, 401 (auth middleware), 404, 409 paused, 429 stream cap, and a
 * shell that cannot start. Only then is the socket taken over.
 */
import type { ProcessHandle } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { WebSocketServer } from 'ws';
import type { SandboxRouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { sandboxIdOf } from '../lookup.js';
import { DEFAULT_COLS, DEFAULT_ROWS, parseDimension } from '../pty/frames.js';
import { runTerminal } from '../pty/session.js';
import { acceptWebSocket, PTY_SUBPROTOCOL } from '../pty/websocket.js';
import type { Router } from '../routing.js';
import type { StreamLease } from '../streaming/registry.js';
import { upgradedResponse, upgradeOf } from '../upgrade.js';

/** bash as a login shell where the template has it; the seed's plain /bin/sh otherwise. */
export const TERMINAL_COMMAND = 'if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh; fi';

export function registerPtyRoutes(
  router: Router,
  { engine, streams }: SandboxRouteDeps,
  sockets: WebSocketServer,
): void {
  router.route('/v1/pty', {
    GET: async (c) => {
      const sandboxId = c.req.query('sandbox') ?? '';
      if (sandboxId === '') throw new MitosError('invalid_json', 'the sandbox query parameter is required');
      sandboxIdOf(c, sandboxId);
      const upgrade = upgradeOf(c);
      if (upgrade === undefined) {
        throw new MitosError('invalid_request', `GET /v1/pty is a WebSocket endpoint (subprotocol ${PTY_SUBPROTOCOL})`);
      }
      const size = {
        cols: parseDimension(c.req.query('cols'), DEFAULT_COLS),
        rows: parseDimension(c.req.query('rows'), DEFAULT_ROWS),
      };
      // The engine's lookup is the only one; the stream slot is taken once it has accepted
      // (404 and 409 before 429, as wire-v1.md 4.18 lists them).
      let lease: StreamLease | undefined;
      let shell: ProcessHandle;
      try {
        shell = await engine.startProcess(sandboxId, {
          command: TERMINAL_COMMAND,
          env: { TERM: 'xterm-256color' },
          timeoutMs: 0,
          pty: size,
          stdin: true,
          onAccepted: () => {
            lease = streams.acquire(sandboxId);
          },
        });
      } catch (err) {
        lease?.release();
        throw engineFailure(err, 'exec_failed', { sandbox: sandboxId });
      }
      const held = lease as StreamLease | undefined;
      if (held === undefined) {
        shell.kill();
        throw new MitosError('internal', 'the engine started the shell without accepting the call (onAccepted)');
      }
      upgrade.claim();
      const ws = await acceptWebSocket(sockets, upgrade);
      if (ws === undefined) {
        shell.kill();
        held.release();
      } else {
        runTerminal(ws, shell, held);
      }
      return upgradedResponse();
    },
  });
}
