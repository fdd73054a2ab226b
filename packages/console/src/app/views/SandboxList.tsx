/**
 * The live list: every sandbox the server pushes, with its usage, filterable and sortable,
 * with a create form and bulk terminate.
 */
import type { SandboxDetailWire, UsageRowWire } from '@mitos/protocol';
import { useMemo, useState } from 'preact/hooks';
import { call } from '../lib/api.js';
import { age, bytes, cpu, deadline } from '../lib/format.js';
import { href } from '../lib/router.js';
import { useStore } from '../lib/store.js';
import { useNow } from '../lib/use-now.js';
import { useTemplates } from '../lib/use-templates.js';
import { ErrorBox } from './ErrorBox.js';

type SortKey = 'id' | 'template' | 'state' | 'age' | 'memory' | 'cpu';

interface Row {
  sandbox: SandboxDetailWire;
  usage: UsageRowWire | undefined;
}

const SORTERS: Record<SortKey, (a: Row, b: Row) => number> = {
  id: (a, b) => a.sandbox.id.localeCompare(b.sandbox.id),
  template: (a, b) => a.sandbox.template_id.localeCompare(b.sandbox.template_id),
  state: (a, b) => a.sandbox.state.localeCompare(b.sandbox.state),
  age: (a, b) => Date.parse(b.sandbox.created_at) - Date.parse(a.sandbox.created_at),
  memory: (a, b) => (a.usage?.memory.unique_bytes ?? 0) - (b.usage?.memory.unique_bytes ?? 0),
  cpu: (a, b) => (a.usage?.cpu_ns ?? 0) - (b.usage?.cpu_ns ?? 0),
};

export function SandboxList() {
  const { sandboxes, usage, loaded } = useStore();
  const now = useNow();
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'age', desc: false });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const all = [...sandboxes.values()]
      .filter((s) => s.state !== 'pooled')
      .map((sandbox) => ({ sandbox, usage: usage.get(sandbox.id) }))
      .filter(
        ({ sandbox: s }) =>
          needle === '' ||
          [s.id, s.template_id, s.state, s.parent_id ?? ''].some((v) => v.toLowerCase().includes(needle)),
      );
    all.sort(SORTERS[sort.key]);
    if (sort.desc) all.reverse();
    return all;
  }, [sandboxes, usage, filter, sort]);

  const chosen = rows.filter((r) => selected.has(r.sandbox.id)).map((r) => r.sandbox.id);
  const terminate = async (ids: string[]) => {
    setBusy(true);
    setError(undefined);
    const outcomes = await Promise.allSettled(
      ids.map((id) => call('DELETE', `/v1/sandboxes/${encodeURIComponent(id)}`)),
    );
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed && failed.status === 'rejected') setError(failed.reason);
    // Only what was terminated leaves the selection: rows picked while this ran stay picked.
    setSelected((picked) => new Set([...picked].filter((id) => !ids.includes(id))));
    setBusy(false);
  };
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const header = (key: SortKey, label: string) => (
    <th aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : undefined}>
      <button type="button" class="sort" onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : false })}>
        {label}
        {sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );

  return (
    <section aria-labelledby="sandboxes-title">
      <div class="bar">
        <h1 id="sandboxes-title">Sandboxes</h1>
        <CreateSandbox onError={setError} />
      </div>
      <div class="bar">
        <label class="inline">
          <span class="sr-only">Filter sandboxes</span>
          <input
            type="search"
            placeholder="Filter by id, template, state, parent"
            value={filter}
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="button" class="danger" disabled={chosen.length === 0 || busy} onClick={() => terminate(chosen)}>
          Terminate selected ({chosen.length})
        </button>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(undefined)} />
      <div class="table-wrap">
        <table class="sandboxes">
          <thead>
            <tr>
              <th>
                <input
                  type="checkbox"
                  aria-label="Select all"
                  checked={rows.length > 0 && chosen.length === rows.length}
                  onChange={(e) =>
                    setSelected(new Set((e.target as HTMLInputElement).checked ? rows.map((r) => r.sandbox.id) : []))
                  }
                />
              </th>
              {header('id', 'Sandbox')}
              {header('template', 'Template')}
              {header('state', 'State')}
              {header('age', 'Age')}
              <th>Parent</th>
              <th>Deadline</th>
              {header('cpu', 'CPU')}
              {header('memory', 'Memory (USS / shared)')}
              <th>Disk</th>
              <th>Egress</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ sandbox: s, usage: u }) => (
              <tr key={s.id} data-sandbox={s.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${s.id}`}
                    checked={selected.has(s.id)}
                    onChange={() => toggle(s.id)}
                  />
                </td>
                <td>
                  <a href={href('sandboxes', s.id)}>
                    <code>{s.id}</code>
                  </a>
                </td>
                <td>{s.template_id}</td>
                <td>
                  <span class={`state state-${s.state}`}>{s.state}</span>
                </td>
                <td>{age(s.created_at, now)}</td>
                <td>
                  {s.parent_id ? (
                    <a href={href('tree', s.id)}>
                      <code>{s.parent_id}</code>
                    </a>
                  ) : (
                    '–'
                  )}
                </td>
                <td>{deadline(s.deadline_unix, now)}</td>
                <td>{cpu(u?.cpu_ns)}</td>
                <td>
                  {bytes(u?.memory.unique_bytes)} / {bytes(u?.memory.shared_bytes)}
                </td>
                <td>{u?.disk ? bytes(u.disk.exclusive_bytes) : '–'}</td>
                <td>{String(s.network.egress ?? 'deny')}</td>
                <td>
                  <button type="button" class="danger small" disabled={busy} onClick={() => terminate([s.id])}>
                    Terminate<span class="sr-only"> {s.id}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {loaded && rows.length === 0 && <p class="empty">No sandboxes{filter ? ' match the filter' : ' yet'}.</p>}
        {!loaded && <p class="empty">Loading…</p>}
      </div>
    </section>
  );
}

function CreateSandbox({ onError }: { onError: (err: unknown) => void }) {
  const { templates } = useTemplates();
  const [template, setTemplate] = useState('');
  const [busy, setBusy] = useState(false);
  const chosen = template || templates.find((t) => t.ready)?.id || '';
  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    onError(undefined);
    try {
      const created = await call<{ id: string }>('POST', '/v1/fork', { template: chosen });
      location.hash = href('sandboxes', created.id);
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline-form" onSubmit={create}>
      <label class="inline">
        Template{' '}
        <select value={chosen} onChange={(e) => setTemplate((e.target as HTMLSelectElement).value)}>
          {templates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.id}
              {t.ready ? '' : ' (building)'}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy || chosen === ''}>
        {busy ? 'Creating…' : 'Create sandbox'}
      </button>
    </form>
  );
}
