/**
 * Attach the user's terminal to a sandbox shell: keystrokes go out as input frames, output
 * is written as-is, the window size follows SIGWINCH, and the terminal is always restored.
 * @module
 */
import type { PtyHandle, PtyOptions } from '@mitos/sdk';

export interface TerminalIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

/** End-of-file in a terminal's line discipline. */
const CTRL_D = '\x04';

/** Open a terminal with `open`, relay it to `io` until the shell exits, and return its status (-1: no status). */
export async function attachTerminal(
  open: (opts: PtyOptions) => Promise<PtyHandle>,
  io: TerminalIo = { stdin: process.stdin, stdout: process.stdout },
): Promise<number> {
  // Not a TTY (a pipe, a file): the seed's 80x24 default.
  const size = () => ({ cols: io.stdout.columns || 80, rows: io.stdout.rows || 24 });
  const pty = await open({ ...size(), onData: (data) => io.stdout.write(data) });

  const raw = io.stdin.isTTY === true;
  // Raw mode hands every key (Ctrl-C, arrows, Tab) to the remote shell instead of to us.
  if (raw) io.stdin.setRawMode(true);
  const onInput = (chunk: Buffer): void => {
    if (!pty.closed) pty.sendInput(chunk);
  };
  // A pipe has no keyboard to press Ctrl-D on: its end becomes one, so the shell sees EOF.
  const onEnd = (): void => onInput(Buffer.from(CTRL_D));
  const onResize = (): void => {
    if (!pty.closed) pty.resize(size().cols, size().rows);
  };
  const onHangup = (): void => pty.kill();
  io.stdin.on('data', onInput);
  io.stdin.once('end', onEnd);
  io.stdin.resume();
  process.on('SIGWINCH', onResize);
  process.on('SIGTERM', onHangup);
  process.on('SIGHUP', onHangup);
  try {
    return await pty.wait();
  } finally {
    io.stdin.off('data', onInput);
    io.stdin.off('end', onEnd);
    process.off('SIGWINCH', onResize);
    process.off('SIGTERM', onHangup);
    process.off('SIGHUP', onHangup);
    if (raw) io.stdin.setRawMode(false);
    io.stdin.pause();
  }
}
