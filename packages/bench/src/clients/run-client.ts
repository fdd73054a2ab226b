/**
 * Bench clients that run in a process of their own (see sdk-exec.ts, clients/httpx_exec.py):
 * started, awaited, and their one JSON line of stdout parsed.
 * @module
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** packages/bench/clients (the Python clients), from dist/clients/. */
export const PYTHON_CLIENTS = fileURLToPath(new URL('../../clients/', import.meta.url));
/** A compiled client beside this module. */
export const nodeClient = (name: string): string => fileURLToPath(new URL(`./${name}.js`, import.meta.url));

export function runClient<T>(command: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${command} ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${command} ${args[0] ?? ''} printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}
