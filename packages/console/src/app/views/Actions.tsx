/** What can be done to a sandbox as a whole: fork, pause/resume, lifetime, preview, terminate. */
import type { SandboxDetailWire } from '@mitos/protocol';
import { useState } from 'preact/hooks';
import { call } from '../lib/api.js';
import { href } from '../lib/router.js';
import { useAction } from '../lib/use-action.js';
import { ErrorBox } from './ErrorBox.js';

export function Actions({ sandbox }: { sandbox: SandboxDetailWire }) {
  const id = sandbox.id;
  const action = useAction();
  const [doing, setDoing] = useState<string>();
  const [count, setCount] = useState(3);
  const [timeout, setTimeoutSeconds] = useState(3600);
  const [port, setPort] = useState(8000);
  const [previewUrl, setPreviewUrl] = useState<string>();
  const busy = action.busy ? doing : undefined;
  const run = (name: string, act: () => Promise<void>) => (e?: Event) => {
    e?.preventDefault();
    setDoing(name);
    void action.run(act);
  };
  const fork = run('fork', async () => {
    await call('POST', `/v1/sandboxes/${encodeURIComponent(id)}/fork`, { count });
    location.hash = href('tree', id);
  });
  const paused = sandbox.state === 'paused';
  return (
    <section class="actions" aria-label="Sandbox actions">
      <form class="inline-form" onSubmit={fork}>
        <NumberField label="Fork into" value={count} onChange={setCount} max={64} />
        <button type="submit" disabled={busy !== undefined || paused}>
          {busy === 'fork' ? 'Forking…' : 'Fork'}
        </button>
      </form>
      <button
        type="button"
        disabled={busy !== undefined}
        onClick={run('pause', () => call('POST', paused ? '/v1/resume' : '/v1/pause', { sandbox: id }))}
      >
        {paused ? 'Resume' : 'Pause'}
      </button>
      <form
        class="inline-form"
        onSubmit={run('timeout', () => call('POST', '/v1/set_timeout', { sandbox: id, timeout_seconds: timeout }))}
      >
        <NumberField label="Lifetime (s)" value={timeout} onChange={setTimeoutSeconds} />
        <button type="submit" disabled={busy !== undefined}>
          Set deadline
        </button>
      </form>
      <form
        class="inline-form"
        onSubmit={run('preview', async () => {
          const reply = await call<{ url: string }>('POST', '/v1/preview', { sandbox: id, port });
          setPreviewUrl(reply.url);
        })}
      >
        <NumberField label="Port" value={port} onChange={setPort} max={65535} />
        <button type="submit" disabled={busy !== undefined}>
          Preview URL
        </button>
        {previewUrl && (
          <a href={previewUrl} target="_blank" rel="noreferrer noopener" class="preview-url">
            {previewUrl}
          </a>
        )}
      </form>
      <button
        type="button"
        class="danger"
        disabled={busy !== undefined}
        onClick={run('terminate', async () => {
          await call('DELETE', `/v1/sandboxes/${encodeURIComponent(id)}`);
          location.hash = href('sandboxes');
        })}
      >
        Terminate
      </button>
      <ErrorBox error={action.error} onDismiss={() => action.setError(undefined)} />
    </section>
  );
}

function NumberField(props: { label: string; value: number; onChange: (n: number) => void; max?: number }) {
  return (
    <label class="inline">
      {props.label}{' '}
      <input
        type="number"
        min={1}
        max={props.max}
        value={props.value}
        onInput={(e) => props.onChange(Number((e.target as HTMLInputElement).value))}
        class="narrow"
      />
    </label>
  );
}
