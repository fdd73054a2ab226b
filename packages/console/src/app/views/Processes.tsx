/** Processes in the sandbox: the list, starting a background one, its output, and killing it. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { call, decodeText, ndjson, request } from '../lib/api.js';
import { ErrorBox } from './ErrorBox.js';

interface ProcessRow {
  pid: number;
  command: string;
  tracked: boolean;
  started_at?: string;
}

export function Processes({ sandboxId }: { sandboxId: string }) {
  const [processes, setProcesses] = useState<ProcessRow[]>([]);
  const [command, setCommand] = useState('');
  const [watching, setWatching] = useState<number>();
  const [output, setOutput] = useState('');
  const [error, setError] = useState<unknown>();
  const stream = useRef<AbortController>();

  const reload = useCallback(async () => {
    try {
      const reply = await call<{ processes: ProcessRow[] }>(
        'GET',
        `/v1/processes?sandbox=${encodeURIComponent(sandboxId)}`,
      );
      setProcesses(reply.processes);
    } catch (err) {
      setError(err);
    }
  }, [sandboxId]);
  useEffect(() => {
    void reload();
    return () => stream.current?.abort();
  }, [reload]);

  const watch = async (pid: number) => {
    stream.current?.abort();
    const controller = new AbortController();
    stream.current = controller;
    setWatching(pid);
    setOutput('');
    try {
      const response = await request('POST', '/v1/processes/stream', { sandbox: sandboxId, pid });
      controller.signal.addEventListener('abort', () => void response.body?.cancel());
      for await (const line of ndjson(response)) {
        if (typeof line.data === 'string' && line.data) setOutput((o) => o + decodeText(line.data as string));
        if ('exit_code' in line) setOutput((o) => `${o}\n[exited with code ${line.exit_code}]`);
      }
    } catch (err) {
      if (!controller.signal.aborted) setError(err);
    }
  };
  const start = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const { pid } = await call<{ pid: number }>('POST', '/v1/processes', { sandbox: sandboxId, command });
      setCommand('');
      await reload();
      void watch(pid);
    } catch (err) {
      setError(err);
    }
  };
  const kill = async (pid: number) => {
    try {
      await call('POST', '/v1/processes/signal', { sandbox: sandboxId, pid, signal: 9 });
      await reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div class="processes">
      <form class="inline-form bar" onSubmit={start}>
        <label class="inline">
          Background command{' '}
          <input value={command} class="wide" onInput={(e) => setCommand((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={command.trim() === ''}>
          Start
        </button>
        <button type="button" class="ghost" onClick={() => void reload()}>
          Refresh
        </button>
      </form>
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>PID</th>
              <th>Command</th>
              <th>Tracked</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {processes.map((p) => (
              <tr key={p.pid}>
                <td>{p.pid}</td>
                <td>
                  <code>{p.command}</code>
                </td>
                <td>{p.tracked ? 'yes' : 'no'}</td>
                <td>
                  {p.tracked && (
                    <button type="button" class="small" onClick={() => void watch(p.pid)}>
                      Output
                    </button>
                  )}
                  <button type="button" class="small danger" onClick={() => void kill(p.pid)}>
                    Kill
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {watching !== undefined && (
        <section aria-label={`Output of process ${watching}`}>
          <h2>Output of {watching}</h2>
          <pre class="process-output">{output}</pre>
        </section>
      )}
    </div>
  );
}
