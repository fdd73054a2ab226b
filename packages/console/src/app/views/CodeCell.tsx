/**
 * A run-code cell over POST /v1/run_code/stream: output arrives as it is produced, and rich
 * results render by MIME type (images, HTML tables and pages, JSON, text). HTML renders in a
 * sandboxed frame with scripts off, so a cell cannot act as the console.
 */
import { useState } from 'preact/hooks';
import { decodeText, ndjson, request } from '../lib/api.js';
import { useAction } from '../lib/use-action.js';
import { ErrorBox } from './ErrorBox.js';

type Output =
  | { kind: 'stdout' | 'stderr'; text: string }
  | { kind: 'result'; text?: string; data: Record<string, string> }
  | { kind: 'error'; name: string; value: string; traceback: string[] }
  | { kind: 'exit'; code: number };

const EXAMPLE = `import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.plot([1, 4, 2, 8])
plt.show()`;

export function CodeCell({ sandboxId }: { sandboxId: string }) {
  const [code, setCode] = useState(EXAMPLE);
  const [language, setLanguage] = useState('python');
  const [outputs, setOutputs] = useState<Output[]>([]);
  const { busy: running, error, setError, run: act } = useAction();

  const run = (e?: Event) => {
    e?.preventDefault();
    setOutputs([]);
    void act(async () => {
      const response = await request('POST', '/v1/run_code/stream', { sandbox: sandboxId, code, language });
      for await (const frame of ndjson(response)) {
        const output = toOutput(frame);
        if (output) setOutputs((o) => [...o, output]);
      }
    });
  };
  return (
    <form class="code-cell" onSubmit={run}>
      <div class="bar">
        <label class="inline">
          Language{' '}
          <select value={language} onChange={(e) => setLanguage((e.target as HTMLSelectElement).value)}>
            <option value="python">Python</option>
            <option value="javascript">JavaScript</option>
            <option value="typescript">TypeScript</option>
          </select>
        </label>
        <button type="submit" disabled={running}>
          {running ? 'Running…' : 'Run (Ctrl+Enter)'}
        </button>
      </div>
      <textarea
        class="code"
        aria-label="Code"
        spellcheck={false}
        value={code}
        rows={8}
        onInput={(e) => setCode((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e);
        }}
      />
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <div class="outputs" aria-live="polite">
        {outputs.map((o, i) => (
          <OutputView key={i} output={o} />
        ))}
      </div>
    </form>
  );
}

function toOutput(frame: Record<string, unknown>): Output | undefined {
  switch (frame.kind) {
    case 'stdout':
    case 'stderr':
      return { kind: frame.kind, text: decodeText(String(frame[frame.kind] ?? '')) };
    case 'result': {
      const result = frame.result as { text?: string; data?: Record<string, string> };
      return { kind: 'result', text: result.text, data: result.data ?? {} };
    }
    case 'error': {
      const error = frame.error as { name: string; value: string; traceback?: string[] };
      return { kind: 'error', name: error.name, value: error.value, traceback: error.traceback ?? [] };
    }
    case 'exit':
      return { kind: 'exit', code: Number(frame.exit_code) };
    default:
      return undefined;
  }
}

function OutputView({ output }: { output: Output }) {
  switch (output.kind) {
    case 'stdout':
    case 'stderr':
      return <pre class={`out-${output.kind}`}>{output.text}</pre>;
    case 'error':
      return (
        <pre class="out-error">
          {output.name}: {output.value}
          {output.traceback.length > 0 ? `\n${output.traceback.join('\n')}` : ''}
        </pre>
      );
    case 'exit':
      return <p class="meta">exit code {output.code}</p>;
    case 'result':
      return <RichResult text={output.text} data={output.data} />;
  }
}

function RichResult({ text, data }: { text?: string; data: Record<string, string> }) {
  const png = data['image/png'];
  const jpeg = data['image/jpeg'];
  const svg = data['image/svg+xml'];
  if (png) return <img class="out-image" src={`data:image/png;base64,${png}`} alt="Plot from the cell" />;
  if (jpeg) return <img class="out-image" src={`data:image/jpeg;base64,${jpeg}`} alt="JPEG from the cell" />;
  if (svg)
    return (
      <img
        class="out-image"
        src={`data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`}
        alt="SVG from the cell"
      />
    );
  const html = data['text/html'];
  if (html) return <iframe class="out-html" sandbox="" srcdoc={html} title="HTML output" />;
  const json = data['application/json'];
  if (json) return <pre class="out-result">{json}</pre>;
  const plain = text ?? data['text/plain'];
  return plain ? <pre class="out-result">{plain}</pre> : null;
}
