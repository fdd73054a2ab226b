/**
 * envd's polling watchers (CreateWatcher / GetWatcherEvents / RemoveWatcher): a watcher
 * (inotify-driven, see event-watcher.ts) whose events wait in a bounded buffer until the client asks for them.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { Account } from '../accounts.js';
import type { WatchEvent } from './dir-watcher.js';
import { toEntryInfo } from './entries.js';
import { startWatcher, type Watcher } from './event-watcher.js';

const MAX_BUFFERED = 10_000;
const MAX_WATCHERS_PER_SANDBOX = 32;

export function toFilesystemEvent(e: WatchEvent, includeEntry: boolean) {
  return {
    name: e.name,
    type: e.type,
    ...(includeEntry && e.stat !== undefined && { entry: toEntryInfo(e.path, e.stat) }),
  };
}

interface Held {
  watcher: Watcher;
  events: ReturnType<typeof toFilesystemEvent>[];
  failure: unknown;
}

export class PollingWatchers {
  readonly #bySandbox = new Map<string, Map<string, Held>>();

  constructor(private readonly engine: Engine) {}

  async create(
    sandboxId: string,
    account: Account,
    root: string,
    recursive: boolean,
    includeEntry: boolean,
  ): Promise<string> {
    const mine = this.#bySandbox.get(sandboxId) ?? new Map<string, Held>();
    if (mine.size >= MAX_WATCHERS_PER_SANDBOX) {
      throw new MitosError('rate_limited', `at most ${MAX_WATCHERS_PER_SANDBOX} watchers per sandbox`);
    }
    const held: Held = { watcher: { stop() {} }, events: [], failure: undefined };
    held.watcher = await startWatcher({
      engine: this.engine,
      sandboxId,
      account,
      root,
      recursive,
      withStat: includeEntry,
      onEvents: (events) => {
        for (const e of events) held.events.push(toFilesystemEvent(e, includeEntry));
        if (held.events.length > MAX_BUFFERED) held.events.splice(0, held.events.length - MAX_BUFFERED);
      },
      onError: (err) => {
        held.failure = err;
      },
    });
    const id = randomUUID();
    mine.set(id, held);
    this.#bySandbox.set(sandboxId, mine);
    return id;
  }

  take(sandboxId: string, watcherId: string): ReturnType<typeof toFilesystemEvent>[] {
    const held = this.#held(sandboxId, watcherId);
    if (held.failure !== undefined) {
      this.remove(sandboxId, watcherId);
      throw held.failure;
    }
    return held.events.splice(0);
  }

  remove(sandboxId: string, watcherId: string): void {
    this.#held(sandboxId, watcherId).watcher.stop();
    this.#bySandbox.get(sandboxId)?.delete(watcherId);
  }

  forget(sandboxId: string): void {
    for (const held of this.#bySandbox.get(sandboxId)?.values() ?? []) held.watcher.stop();
    this.#bySandbox.delete(sandboxId);
  }

  closeAll(): void {
    for (const id of [...this.#bySandbox.keys()]) this.forget(id);
  }

  #held(sandboxId: string, watcherId: string): Held {
    const held = this.#bySandbox.get(sandboxId)?.get(watcherId);
    if (held === undefined) throw new MitosError('not_found', `watcher ${JSON.stringify(watcherId)} not found`);
    return held;
  }
}
