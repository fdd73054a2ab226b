/**
 * Templates: what sandboxes can start from, whether each is built, building one (by id, or
 * from a base and shell steps, with its log as it runs), and deleting one.
 */
import type { TemplateRecord } from '@mitos/protocol';
import { useState } from 'preact/hooks';
import { call } from '../lib/api.js';
import { useAction } from '../lib/use-action.js';
import { useTemplates } from '../lib/use-templates.js';
import { BuildLog } from './BuildLog.js';
import { ErrorBox } from './ErrorBox.js';

export function Templates() {
  const { templates, error: loadError, reload } = useTemplates();
  const [following, setFollowing] = useState<string>();
  const action = useAction();
  return (
    <section aria-labelledby="templates-title">
      <div class="bar">
        <h1 id="templates-title">Templates</h1>
      </div>
      <NewTemplate
        onStarted={(id) => {
          setFollowing(id);
          reload();
        }}
      />
      <ErrorBox error={loadError ?? action.error} onDismiss={() => action.setError(undefined)} />
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
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {templates.map((t) => (
              <TemplateRow
                key={t.id}
                template={t}
                busy={action.busy}
                onLog={() => setFollowing(t.id)}
                onDelete={() =>
                  void action.run(async () => {
                    await call('DELETE', `/v1/templates/${encodeURIComponent(t.id)}`);
                    if (following === t.id) setFollowing(undefined);
                    reload();
                  })
                }
              />
            ))}
          </tbody>
        </table>
      </div>
      {following !== undefined && <BuildLog key={following} id={following} onFinished={reload} />}
    </section>
  );
}

interface RowProps {
  template: TemplateRecord;
  busy: boolean;
  onLog: () => void;
  onDelete: () => void;
}

/** Delete asks once more in place (no modal): the second button names what goes. */
function TemplateRow({ template: t, busy, onLog, onDelete }: RowProps) {
  const [confirming, setConfirming] = useState(false);
  return (
    <tr>
      <td>
        <code>{t.id}</code>
      </td>
      <td>{t.image ?? '–'}</td>
      <td>
        <span class={`state state-${t.ready ? 'running' : 'creating'}`}>{t.ready ? 'ready' : 'building'}</span>
      </td>
      <td>{new Date(t.created_at).toLocaleString()}</td>
      <td>{(t.creation_time_ms / 1000).toFixed(1)} s</td>
      <td>
        {t.network.egress} / {t.network.inbound}
      </td>
      <td class="row-actions">
        <button type="button" class="small" onClick={onLog} aria-label={`Build log of ${t.id}`}>
          Log
        </button>
        {confirming ? (
          <>
            <button type="button" class="small danger" disabled={busy} onClick={onDelete}>
              Delete {t.id}
            </button>
            <button type="button" class="small ghost" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" class="small danger" onClick={() => setConfirming(true)} aria-label={`Delete ${t.id}…`}>
            Delete…
          </button>
        )}
      </td>
    </tr>
  );
}

/**
 * Build by id alone (python, node, base: get-or-create, answers when built) or from a base
 * template with shell steps (a spec: answers at once, and the log follows the build).
 */
function NewTemplate({ onStarted }: { onStarted: (id: string) => void }) {
  const [id, setId] = useState('');
  const [base, setBase] = useState('');
  const [steps, setSteps] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const name = id.trim();
    void run(async () => {
      if (base.trim() === '') {
        await call('POST', '/v1/templates', { id: name });
      } else {
        const buildSteps = steps
          .split('\n')
          .map((s) => s.trim())
          .filter((s) => s !== '')
          .map((command) => ({ type: 'run', run: command }));
        await call('POST', '/v1/templates', { id: name, spec: { image: base.trim(), buildSteps } });
      }
      setId('');
      setSteps('');
      onStarted(name);
    });
  };
  const value = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value);
  return (
    <form class="template-form" onSubmit={submit} aria-label="New template">
      <label>
        Template id <input value={id} onInput={value(setId)} placeholder="python" required />
      </label>
      <label>
        Based on (template or image; empty for a built-in id){' '}
        <input value={base} onInput={value(setBase)} placeholder="python" />
      </label>
      <label>
        Build steps (one shell command per line)
        <textarea value={steps} onInput={value(setSteps)} disabled={base.trim() === ''} spellcheck={false} />
      </label>
      <div>
        <button type="submit" disabled={busy || id.trim() === ''}>
          {busy ? 'Starting…' : 'Build'}
        </button>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
    </form>
  );
}
