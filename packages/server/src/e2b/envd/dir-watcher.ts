/**
 * Directory watching by polling the engine's file API (the agent has no inotify channel):
 * every POLL_MS the tree is listed and compared with the previous listing. New names are
 * CREATE (then WRITE when it has content), a changed size or mtime is WRITE, a changed mode is CHMOD, a vanished name is
 * REMOVE; a rename shows as REMOVE of the old name and CREATE of the new one.
 */
import type { Engine, FileStat } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { EventType } from '../gen/filesystem/filesystem_pb.js';
import { joinPath } from './entries.js';

const POLL_MS = 100;
/** A recursive watch stops descending past this many entries, so a huge tree cannot stall a poll. */
const MAX_ENTRIES = 10_000;

export interface WatchEvent {
  /** Path relative to the watched directory, as envd reports it. */
  name: string;
  type: EventType;
  path: string;
  stat: FileStat | undefined;
}

type Snapshot = Map<string, FileStat>;

export class DirWatcher {
  #timer: NodeJS.Timeout | undefined;
  #previous: Snapshot | undefined;
  #polling = false;
  #stopped = false;

  private constructor(
    private readonly engine: Engine,
    private readonly sandboxId: string,
    private readonly root: string,
    private readonly recursive: boolean,
    private readonly onEvents: (events: WatchEvent[]) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Resolves once the first listing is taken, so changes made after it are all reported. */
  static async start(
    engine: Engine,
    sandboxId: string,
    root: string,
    recursive: boolean,
    onEvents: (events: WatchEvent[]) => void,
    onError: (err: unknown) => void,
  ): Promise<DirWatcher> {
    const stat = await engine.files.stat(sandboxId, root);
    if (stat.kind !== 'dir') throw new MitosError('invalid_request', `${root} is not a directory`);
    const w = new DirWatcher(engine, sandboxId, root, recursive, onEvents, onError);
    w.#previous = await w.#snapshot();
    w.#timer = setInterval(() => void w.#poll(), POLL_MS);
    return w;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      const next = await this.#snapshot();
      if (this.#stopped) return;
      const events = diff(this.#previous ?? new Map(), next, this.root);
      this.#previous = next;
      if (events.length > 0) this.onEvents(events);
    } catch (err) {
      this.stop();
      this.onError(err);
    } finally {
      this.#polling = false;
    }
  }

  async #snapshot(): Promise<Snapshot> {
    const out: Snapshot = new Map();
    const pending = [''];
    while (pending.length > 0 && out.size < MAX_ENTRIES) {
      const rel = pending.shift() as string;
      const dir = rel === '' ? this.root : joinPath(this.root, rel);
      let entries: FileStat[];
      try {
        entries = await this.engine.files.list(this.sandboxId, dir);
      } catch (err) {
        // A subdirectory removed between listings is a change, not a failure.
        if (rel !== '' && err instanceof MitosError && err.code === 'not_found') continue;
        throw err;
      }
      for (const e of entries) {
        const name = rel === '' ? e.name : `${rel}/${e.name}`;
        out.set(name, e);
        if (this.recursive && e.kind === 'dir') pending.push(name);
      }
    }
    return out;
  }
}

function diff(before: Snapshot, after: Snapshot, root: string): WatchEvent[] {
  const events: WatchEvent[] = [];
  for (const [name, stat] of after) {
    const old = before.get(name);
    const path = joinPath(root, name);
    if (old === undefined) {
      events.push({ name, type: EventType.CREATE, path, stat });
      // inotify reports a new file's content as a write after its create; envd clients expect both.
      if (stat.kind === 'file' && stat.size > 0) events.push({ name, type: EventType.WRITE, path, stat });
    } else if (old.size !== stat.size || old.mtimeMs !== stat.mtimeMs)
      events.push({ name, type: EventType.WRITE, path, stat });
    else if (old.mode !== stat.mode) events.push({ name, type: EventType.CHMOD, path, stat });
  }
  for (const name of before.keys()) {
    if (!after.has(name)) events.push({ name, type: EventType.REMOVE, path: joinPath(root, name), stat: undefined });
  }
  return events;
}
