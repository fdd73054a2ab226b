/**
 * The console's copy of the server's live state, fed by the event stream. A tiny observable
 * (no state library): views subscribe with useStore and re-render when it changes.
 */
import type { SandboxDetailWire, UsageRowWire } from '@mitos/protocol';
import { useEffect, useState } from 'preact/hooks';
import type { ApiError } from './api.js';
import type { Connection, ServerEvent } from './events.js';

export interface ConsoleState {
  sandboxes: Map<string, SandboxDetailWire>;
  usage: Map<string, UsageRowWire>;
  connection: Connection;
  retryInMs: number | undefined;
  /** The server refused the stream outright (for example a revoked key). */
  fatal: ApiError | undefined;
  /** Set once the first snapshot has arrived. */
  loaded: boolean;
}

type Listener = () => void;

class Store {
  state: ConsoleState = {
    sandboxes: new Map(),
    usage: new Map(),
    connection: 'connecting',
    retryInMs: undefined,
    fatal: undefined,
    loaded: false,
  };
  readonly #listeners = new Set<Listener>();

  update(change: (state: ConsoleState) => Partial<ConsoleState>): void {
    this.state = { ...this.state, ...change(this.state) };
    for (const listener of this.#listeners) listener();
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export const store = new Store();

export function useStore(): ConsoleState {
  const [state, setState] = useState(store.state);
  useEffect(() => store.subscribe(() => setState(store.state)), []);
  return state;
}

/** The part of the state one pushed message changes. */
export function applyEvent(s: ConsoleState, event: ServerEvent): Partial<ConsoleState> {
  switch (event.type) {
    case 'snapshot':
      return { sandboxes: new Map(event.data.sandboxes.map((x) => [x.id, x])), loaded: true, fatal: undefined };
    case 'sandbox':
      return { sandboxes: new Map(s.sandboxes).set(event.data.sandbox.id, event.data.sandbox) };
    case 'gone': {
      const sandboxes = new Map(s.sandboxes);
      sandboxes.delete(event.data.id);
      return { sandboxes };
    }
    case 'usage':
      return { usage: new Map(event.data.sandboxes.map((u) => [u.sandbox, u])) };
  }
}
