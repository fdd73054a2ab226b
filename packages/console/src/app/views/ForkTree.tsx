/**
 * A sandbox's lineage as a tree: from the oldest live ancestor down through every fork, each
 * node with its generation, state and what the fork that made it carried (the server keeps it).
 * A parent that is gone still shows, as the place its children branched from.
 */
import type { ForkCarriedWire, SandboxDetailWire } from '@mitos/protocol';
import { href } from '../lib/router.js';
import { useStore } from '../lib/store.js';

export function ForkTree({ id }: { id: string }) {
  const { sandboxes, loaded } = useStore();
  const children = new Map<string, SandboxDetailWire[]>();
  for (const s of sandboxes.values()) {
    if (s.parent_id === null) continue;
    const list = children.get(s.parent_id) ?? [];
    list.push(s);
    children.set(s.parent_id, list);
  }
  let root = id;
  for (let parent = sandboxes.get(root)?.parent_id; parent; parent = sandboxes.get(parent)?.parent_id) root = parent;
  if (loaded && !sandboxes.has(id)) {
    return (
      <section>
        <h1>Fork tree</h1>
        <p class="empty">
          Sandbox <code>{id}</code> is not live. <a href={href('sandboxes')}>Back to the list</a>
        </p>
      </section>
    );
  }
  return (
    <section aria-labelledby="tree-title">
      <div class="bar">
        <h1 id="tree-title">Fork tree</h1>
        <a href={href('sandboxes', id)}>Open {id}</a>
      </div>
      <ul class="tree" aria-label={`Lineage of ${id}`}>
        <Node id={root} focus={id} sandboxes={sandboxes} children={children} />
      </ul>
    </section>
  );
}

interface NodeProps {
  id: string;
  focus: string;
  sandboxes: Map<string, SandboxDetailWire>;
  children: Map<string, SandboxDetailWire[]>;
}

function Node({ id, focus, sandboxes, children }: NodeProps) {
  const sandbox = sandboxes.get(id);
  const kids = (children.get(id) ?? []).sort((a, b) => a.created_at.localeCompare(b.created_at));
  const fork = sandbox?.carried;
  return (
    <li aria-current={id === focus ? 'true' : undefined}>
      <div class={`node${id === focus ? ' node-focus' : ''}${sandbox ? '' : ' node-gone'}`} data-node={id}>
        {sandbox ? (
          <a href={href('sandboxes', id)}>
            <code>{id}</code>
          </a>
        ) : (
          <code>{id}</code>
        )}
        <span class="meta">
          {sandbox ? `gen ${sandbox.generation} · ${sandbox.state} · ${sandbox.template_id}` : 'gone'}
        </span>
        {fork && <span class="meta carried">carried: {describeCarried(fork)}</span>}
        {kids.length > 0 && (
          <span class="meta">
            {kids.length} {kids.length === 1 ? 'child' : 'children'}
          </span>
        )}
      </div>
      {kids.length > 0 && (
        <ul>
          {kids.map((k) => (
            <Node key={k.id} id={k.id} focus={focus} sandboxes={sandboxes} children={children} />
          ))}
        </ul>
      )}
    </li>
  );
}

function describeCarried(c: ForkCarriedWire): string {
  const parts = [c.filesystem && 'files', c.interpreter && 'interpreter state', c.processes && 'processes'].filter(
    Boolean,
  );
  const skipped = c.interpreter_skipped.length > 0 ? ` (not: ${c.interpreter_skipped.join(', ')})` : '';
  return `${parts.join(', ') || 'nothing'}${skipped}${describeLeftBehind(c.processes_not_carried)}`;
}

/** Processes the children lack, by program and count, each reason once (they are usually one). */
function describeLeftBehind(left: ForkCarriedWire['processes_not_carried']): string {
  if (left.length === 0) return '';
  const programs = new Map<string, number>();
  for (const p of left) {
    const program = (p.command.split(' ')[0] ?? '').split('/').pop() || p.command;
    programs.set(program, (programs.get(program) ?? 0) + 1);
  }
  const names = [...programs].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(', ');
  const reasons = [...new Set(left.map((p) => p.reason))].join('; ');
  return ` · not carried: ${names} (${reasons})`;
}
