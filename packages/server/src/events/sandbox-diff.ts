/**
 * What changed between two looks at the engine's live sandboxes. The event stream polls the
 * engine's in-memory list rather than hooking every driver: a sandbox's state, deadline and
 * lineage are all the list view shows, and comparing them is cheap.
 */
import type { Engine, SandboxInfo } from '@mitos/engine';
import { liveSandboxes } from '../lookup.js';

export interface SandboxView {
  sandbox: SandboxInfo;
  deadline: Date | null;
}

export interface SandboxChanges {
  upserted: SandboxView[];
  gone: string[];
}

/** Keeps the last look; `next()` answers what differs from it. */
export class SandboxDiff {
  readonly #engine: Engine;
  #seen = new Map<string, string>();

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  /** Every live sandbox now, and remembers them as seen. */
  snapshot(): SandboxView[] {
    const views = this.#look();
    this.#seen = new Map(views.map((v) => [v.sandbox.id, fingerprint(v)]));
    return views;
  }

  next(): SandboxChanges {
    const previous = this.#seen;
    const views = this.#look();
    this.#seen = new Map(views.map((v) => [v.sandbox.id, fingerprint(v)]));
    const upserted = views.filter((v) => previous.get(v.sandbox.id) !== this.#seen.get(v.sandbox.id));
    const gone = [...previous.keys()].filter((id) => !this.#seen.has(id));
    return { upserted, gone };
  }

  #look(): SandboxView[] {
    return liveSandboxes(this.#engine).map((sandbox) => ({
      sandbox,
      deadline: this.#engine.getDeadline(sandbox.id),
    }));
  }
}

function fingerprint({ sandbox, deadline }: SandboxView): string {
  const carried = sandbox.forkCarried ? 'carried' : '';
  return `${sandbox.state}|${deadline?.getTime() ?? 0}|${sandbox.parentId ?? ''}|${sandbox.generation}|${carried}`;
}
