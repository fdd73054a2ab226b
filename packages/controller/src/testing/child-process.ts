/**
 * Child processes for the integration tier: started with their output captured, awaited until
 * they print a readiness line, and stopped by pid (SIGTERM, then SIGKILL after a grace
 * period). A process started `detached` leads its own process group, and only that group we
 * created is signalled as a whole.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface Child {
  pid: number;
  readonly exited: boolean;
  /** The last lines of stdout and stderr, for failure messages. */
  tail(): string;
  /** Resolves with the first stdout line for which `match` returns a value. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T>;
  stop(graceMs?: number): Promise<void>;
}

export function startChild(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean; name: string },
): Child {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${command}`);
  const pid = child.pid;
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exit.then(() => {
    exited = true;
  });
  const collect = (stream: NodeJS.ReadableStream | null, prefix: string) => {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(`${prefix}${line}`);
        if (lines.length > 200) lines.shift();
        if (prefix === '') for (const l of listeners) l(line);
        nl = buffered.indexOf('\n');
      }
    });
  };
  collect(child.stdout, '');
  collect(child.stderr, '[stderr] ');

  return {
    pid,
    get exited() {
      return exited;
    },
    tail: () => lines.slice(-40).join('\n'),
    waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`${options.name}: not ready after ${timeoutMs} ms\n${lines.slice(-40).join('\n')}`)),
          timeoutMs,
        );
        const onLine = (line: string) => {
          const value = match(line);
          if (value !== undefined) finish(undefined, value);
        };
        const onExit = () =>
          finish(new Error(`${options.name} exited before it was ready\n${lines.slice(-40).join('\n')}`));
        function finish(err?: Error, value?: T) {
          clearTimeout(timer);
          listeners.delete(onLine);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(value as T);
        }
        listeners.add(onLine);
        child.once('exit', onExit);
        if (exited) onExit();
      });
    },
    async stop(graceMs = 20_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        // Still running after the grace period: kill it, and its group if it leads one.
        try {
          if (options.detached) process.kill(-pid, 'SIGKILL');
          else process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
