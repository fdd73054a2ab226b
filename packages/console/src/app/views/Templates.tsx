/** Templates: what sandboxes can start from, whether each is built, and building a new one. */
import { useState } from 'preact/hooks';
import { call } from '../lib/api.js';
import { useAction } from '../lib/use-action.js';
import { useTemplates } from '../lib/use-templates.js';
import { ErrorBox } from './ErrorBox.js';

export function Templates() {
  const { templates, error: loadError, reload } = useTemplates();
  const [id, setId] = useState('');
  const { busy, error, run } = useAction();
  const build = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await call('POST', '/v1/templates', { id: id.trim() });
      setId('');
      reload();
    });
  };
  return (
    <section aria-labelledby="templates-title">
      <div class="bar">
        <h1 id="templates-title">Templates</h1>
        <form class="inline-form" onSubmit={build}>
          <label class="inline">
            Template id{' '}
            <input value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} placeholder="python" />
          </label>
          <button type="submit" disabled={busy || id.trim() === ''}>
            {busy ? 'Building… (first build takes minutes)' : 'Build'}
          </button>
        </form>
      </div>
      <ErrorBox error={loadError ?? error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Id</th>
              <th>Image</th>
              <th>Status</th>
              <th>Built</th>
              <th>Build time</th>
              <th>Egress / inbound</th>
            </tr>
          </thead>
          <tbody>
            {templates.map((t) => (
              <tr key={t.id}>
                <td>
                  <code>{t.id}</code>
                </td>
                <td>{t.image ?? '–'}</td>
                <td>
                  <span class={`state state-${t.ready ? 'running' : 'creating'}`}>
                    {t.ready ? 'ready' : 'building'}
                  </span>
                </td>
                <td>{new Date(t.created_at).toLocaleString()}</td>
                <td>{(t.creation_time_ms / 1000).toFixed(1)} s</td>
                <td>
                  {t.network.egress} / {t.network.inbound}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
