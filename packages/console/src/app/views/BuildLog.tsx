/**
 * A template build as it happens: GET /v1/templates/{id}/build replays every event so far and
 * then follows live ones (NDJSON), so opening the log late or twice shows the whole build.
 */
import type { TemplateBuildEvent } from '@mitos/protocol';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, ndjson, request } from '../lib/api.js';
import { ErrorBox } from './ErrorBox.js';

interface BuildView {
  lines: string[];
  step: string;
  outcome: 'building' | 'done' | 'failed';
  error: unknown;
}

export function BuildLog({ id, onFinished }: { id: string; onFinished: () => void }) {
  const [view, setView] = useState<BuildView>({ lines: [], step: '', outcome: 'building', error: undefined });
  useEffect(() => {
    const controller = new AbortController();
    setView({ lines: [], step: '', outcome: 'building', error: undefined });
    const follow = async () => {
      try {
        const response = await request('GET', `/v1/templates/${encodeURIComponent(id)}/build`);
        controller.signal.addEventListener('abort', () => void response.body?.cancel());
        for await (const line of ndjson(response)) {
          if (controller.signal.aborted) return;
          setView((v) => applyBuildEvent(v, line as TemplateBuildEvent));
        }
        setView((v) => (v.outcome === 'building' ? { ...v, outcome: 'failed', step: 'the log ended early' } : v));
      } catch (err) {
        if (!controller.signal.aborted) setView((v) => ({ ...v, outcome: 'failed', error: err }));
      }
      if (!controller.signal.aborted) onFinished();
    };
    void follow();
    return () => controller.abort();
  }, [id]);
  const label = view.outcome === 'building' ? 'building' : view.outcome === 'done' ? 'ready' : 'failed';
  return (
    <section class="build-log" aria-label={`Build of ${id}`}>
      <div class="bar">
        <h2>
          Build of <code>{id}</code>
        </h2>
        <span
          class={`state state-${view.outcome === 'done' ? 'running' : view.outcome === 'building' ? 'creating' : 'failed'}`}
        >
          {label}
        </span>
        <span role="status" class="hint">
          {view.step}
        </span>
      </div>
      <ErrorBox error={view.error} />
      <pre class="process-output" role="log" aria-label="Build output">
        {view.lines.join('\n')}
      </pre>
    </section>
  );
}

function applyBuildEvent(view: BuildView, event: TemplateBuildEvent): BuildView {
  switch (event.type) {
    case 'base':
      return { ...view, lines: [...view.lines, `FROM ${event.image}${event.cached ? ' (cached)' : ''}`] };
    case 'step': {
      const header = `[${event.step}/${event.total}] ${event.kind} ${event.label}${event.cached ? ' (cached)' : ''}`;
      return { ...view, step: `step ${event.step} of ${event.total}`, lines: [...view.lines, header] };
    }
    case 'log':
      return { ...view, lines: [...view.lines, event.line] };
    case 'step_done':
      return view;
    case 'done':
      return {
        ...view,
        outcome: 'done',
        step: `built in ${(event.duration_ms / 1000).toFixed(1)} s`,
        lines: [...view.lines, 'done'],
      };
    case 'error':
      return { ...view, outcome: 'failed', step: '', error: new ApiError(500, event.error) };
    default:
      return view;
  }
}
