/**
 * One terminal: a shell under a pseudo-terminal joined to a WebSocket. Output goes out as
 * `output` frames; the shell's exit sends `exit` (always with `exit_code`) and closes 1000.
 * A client that closes the socket kills the shell, and the stream slot is freed either way.
 */
import type { ProcessHandle } from '@mitos/engine';
import { WebSocket } from 'ws';
import { failureDetail } from '../errors.js';
import type { StreamLease } from '../streaming/registry.js';
import { outputFrame, parseClientFrame, type ServerFrame } from './frames.js';

export function runTerminal(ws: WebSocket, shell: ProcessHandle, lease: StreamLease): void {
  let ended = false;
  let shellExited = false;
  const send = (frame: ServerFrame) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };
  const end = (frame: ServerFrame) => {
    if (ended) return;
    ended = true;
    send(frame);
    ws.close(1000);
  };
  const onGone = () =>
    end({ kind: 'exit', exit_code: 1, error: `pty stream failed: ${failureDetail(lease.signal.reason)}` });

  const unsubscribe = shell.subscribe({
    onStdout: (chunk) => send(outputFrame(chunk)),
    onStderr: (chunk) => send(outputFrame(chunk)),
    onExit: (result) => {
      shellExited = true;
      end({ kind: 'exit', exit_code: result.exitCode });
    },
  });
  if (lease.signal.aborted) onGone();
  else lease.signal.addEventListener('abort', onGone, { once: true });

  ws.on('message', (data, isBinary) => {
    if (isBinary || ended) return;
    const frame = parseClientFrame(data.toString());
    try {
      if (frame?.kind === 'input') shell.write(frame.data);
      else if (frame?.kind === 'resize') shell.resize(frame.cols, frame.rows);
    } catch {
      // The shell is exiting; its exit frame is on the way.
    }
  });
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    unsubscribe();
    lease.signal.removeEventListener('abort', onGone);
    ended = true;
    // Also after a failure frame (server shutdown): nobody can reach this shell any more.
    if (!shellExited) shell.kill();
    lease.release();
  });
}
