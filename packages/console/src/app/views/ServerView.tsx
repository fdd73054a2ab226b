/** The server: health, engine, version, and metering totals across live sandboxes. */
import type { HealthResponse } from '@mitos/protocol';
import { useEffect, useState } from 'preact/hooks';
import { call } from '../lib/api.js';
import { bytes, cpu } from '../lib/format.js';
import { ErrorBox } from './ErrorBox.js';

interface Totals {
  sandboxes: number;
  memory: { unique_bytes: number; cgroup_bytes: number };
  disk: { exclusive_bytes: number };
  cpu_ns: number;
}

export function ServerView() {
  const [health, setHealth] = useState<HealthResponse>();
  const [totals, setTotals] = useState<Totals>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const [h, m] = await Promise.all([
          call<HealthResponse>('GET', '/v1/health'),
          call<{ totals: Totals }>('GET', '/v1/metering'),
        ]);
        if (!live) return;
        setHealth(h);
        setTotals(m.totals);
        setError(undefined);
      } catch (err) {
        if (live) setError(err);
      }
    };
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  return (
    <section aria-labelledby="server-title">
      <h1 id="server-title">Server</h1>
      <ErrorBox error={error} />
      {health && (
        <dl class="facts cards">
          <dt>Health</dt>
          <dd>
            <span class="state state-running">{health.status}</span>
          </dd>
          <dt>Engine</dt>
          <dd>{health.engine}</dd>
          <dt>Version</dt>
          <dd>{health.version}</dd>
          <dt>Templates</dt>
          <dd>{health.templates}</dd>
          <dt>Live sandboxes</dt>
          <dd>{health.sandboxes}</dd>
        </dl>
      )}
      {totals && (
        <>
          <h2>Metering totals</h2>
          <dl class="facts cards">
            <dt>Measured sandboxes</dt>
            <dd>{totals.sandboxes}</dd>
            <dt>Unique memory</dt>
            <dd>{bytes(totals.memory.unique_bytes)}</dd>
            <dt>cgroup memory</dt>
            <dd>{bytes(totals.memory.cgroup_bytes)}</dd>
            <dt>Exclusive disk</dt>
            <dd>{bytes(totals.disk.exclusive_bytes)}</dd>
            <dt>CPU time</dt>
            <dd>{cpu(totals.cpu_ns)}</dd>
          </dl>
        </>
      )}
    </section>
  );
}
