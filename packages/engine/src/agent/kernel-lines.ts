/** The kernels' side of a cell: JSON lines on the kernel's socket (mitos_kernel.py / .mjs). */
import type { Duplex } from 'node:stream';

export interface KernelLine {
  kind: string;
  stdout?: string;
  stderr?: string;
  result?: { text?: string; data?: Record<string, string>; main?: boolean };
  error?: { name?: string; value?: string; traceback?: string[] };
  exit_code?: number;
  pid?: number;
  saved?: string[];
  skipped?: string[];
}

/** Read JSON lines from a socket until `stop` says so or it closes. */
export function readLines(sock: Duplex, onLine: (line: KernelLine) => boolean): Promise<'stopped' | 'closed'> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (how: 'stopped' | 'closed') => {
      if (done) return;
      done = true;
      resolve(how);
    };
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0 && !done; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.trim()) continue;
        let line: KernelLine;
        try {
          line = JSON.parse(text) as KernelLine;
        } catch {
          continue;
        }
        if (onLine(line)) finish('stopped');
      }
    });
    sock.on('close', () => finish('closed'));
    sock.on('error', () => finish('closed'));
    sock.resume();
  });
}
