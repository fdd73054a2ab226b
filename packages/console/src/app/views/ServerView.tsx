/** The server: health, engine, version, the warm pool, and metering totals across live sandboxes. */
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
      {health && <WarmPool pool={health.warm_pool} />}
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

function WarmPool({ pool }: { pool: HealthResponse['warm_pool'] }) {
  if (!pool) return <p class="hint">This engine has no warm pool.</p>;
  return (
    <>
      <h2>Warm pool</h2>
      <p class="hint">
        {pool.enabled
          ? `${pool.size} started sandbox${pool.size === 1 ? '' : 'es'} kept ready per template; a create takes one.`
          : 'Off: start the server with --warm-pool 1 or more to keep sandboxes ready.'}
      </p>
      {pool.templates.length > 0 && (
        <div class="table-wrap">
          <table aria-label="Warm pool by template">
            <thead>
              <tr>
                <th>Template</th>
                <th>Ready</th>
                <th>Refilling</th>
              </tr>
            </thead>
            <tbody>
              {pool.templates.map((t) => (
                <tr key={t.template}>
                  <td>
                    <code>{t.template}</code>
                  </td>
                  <td>
                    {t.ready} / {pool.size}
                  </td>
                  <td>{t.refilling ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
