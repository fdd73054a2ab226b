/** One sandbox: its record, actions, and tabs for the terminal, files, code and processes. */
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { age, deadline } from '../lib/format.js';
import { href } from '../lib/router.js';
import { useStore } from '../lib/store.js';
import { useNow } from '../lib/use-now.js';
import { Actions } from './Actions.js';
import { CodeCell } from './CodeCell.js';
import { Files } from './Files.js';
import { Processes } from './Processes.js';

// xterm.js is the largest dependency and only this page needs it.
const Terminal = lazy(() => import('./Terminal.js').then((m) => m.Terminal));

const TABS = [
  ['terminal', 'Terminal'],
  ['files', 'Files'],
  ['code', 'Run code'],
  ['processes', 'Processes'],
] as const;

export function SandboxPage({ id, tab }: { id: string; tab: string }) {
  const { sandboxes, loaded } = useStore();
  const now = useNow();
  const sandbox = sandboxes.get(id);
  // The terminal stays mounted once opened, so switching tabs does not drop the shell.
  const [terminalOpened, setTerminalOpened] = useState(tab === 'terminal');
  if (tab === 'terminal' && !terminalOpened) setTerminalOpened(true);
  if (loaded && sandbox === undefined) {
    return (
      <section>
        <h1>
          Sandbox <code>{id}</code>
        </h1>
        <p class="empty">
          This sandbox is not live (terminated, or never existed). <a href={href('sandboxes')}>Back to the list</a>
        </p>
      </section>
    );
  }
  const running = sandbox?.state === 'running';
  return (
    <section aria-labelledby="sandbox-title">
      <div class="bar">
        <h1 id="sandbox-title">
          <code>{id}</code>
        </h1>
        {sandbox && (
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <span class={`state state-${sandbox.state}`}>{sandbox.state}</span>
            </dd>
            <dt>Template</dt>
            <dd>{sandbox.template_id}</dd>
            <dt>Age</dt>
            <dd>{age(sandbox.created_at, now)}</dd>
            <dt>Deadline</dt>
            <dd>{deadline(sandbox.deadline_unix, now)}</dd>
            <dt>Generation</dt>
            <dd>
              {sandbox.generation} (<a href={href('tree', id)}>fork tree</a>)
            </dd>
          </dl>
        )}
      </div>
      {sandbox && <Actions sandbox={sandbox} />}
      <div class="tabs" role="tablist" aria-label="Sandbox tools" onKeyDown={(e) => moveTab(e, id, tab)}>
        {TABS.map(([name, label]) => (
          <a
            key={name}
            role="tab"
            class="tab"
            href={href('sandboxes', id, name)}
            aria-selected={tab === name}
            tabIndex={tab === name ? 0 : -1}
            id={`tab-${name}`}
            aria-controls={`panel-${name}`}
          >
            {label}
          </a>
        ))}
      </div>
      {!running && sandbox && <p class="hint">The sandbox is {sandbox.state}; resume it to use these tools.</p>}
      <div role="tabpanel" id="panel-terminal" aria-labelledby="tab-terminal" hidden={tab !== 'terminal'}>
        {terminalOpened && running && (
          <Suspense fallback={<p>Loading terminal…</p>}>
            <Terminal sandboxId={id} />
          </Suspense>
        )}
      </div>
      {tab === 'files' && running && (
        <div role="tabpanel" id="panel-files" aria-labelledby="tab-files">
          <Files sandboxId={id} />
        </div>
      )}
      {tab === 'code' && running && (
        <div role="tabpanel" id="panel-code" aria-labelledby="tab-code">
          <CodeCell sandboxId={id} />
        </div>
      )}
      {tab === 'processes' && running && (
        <div role="tabpanel" id="panel-processes" aria-labelledby="tab-processes">
          <Processes sandboxId={id} />
        </div>
      )}
    </section>
  );
}

/** The tab pattern's keys: arrows move to the neighbouring tab (wrapping), Home and End to the ends. */
function moveTab(e: KeyboardEvent, id: string, current: string): void {
  const names = TABS.map(([name]) => name as string);
  const at = Math.max(0, names.indexOf(current));
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: names.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  const next = names[(to + names.length) % names.length] as string;
  location.hash = href('sandboxes', id, next);
  requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
}
