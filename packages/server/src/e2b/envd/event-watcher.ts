/**
 * Directory watching driven by the kernel's inotify events: the engine ships a small watcher
 * (packages/agent/watch) into every sandbox, which runs as the account that asked and writes
 * one record per event. An engine that does not ship it (the microVM driver) gets the polling
 * DirWatcher instead, so WatchDir still works there, only later.
 */
import { type Engine, type FileStat, WATCHER_IN_SANDBOX } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { type Account, asAccount } from '../accounts.js';
import { EventType } from '../gen/filesystem/filesystem_pb.js';
import { DirWatcher, type WatchEvent } from './dir-watcher.js';
import { joinPath } from './entries.js';

const KINDS: Record<string, EventType> = {
  C: EventType.CREATE,
  W: EventType.WRITE,
  R: EventType.REMOVE,
  N: EventType.RENAME,
  A: EventType.CHMOD,
};
/** The shell's "command not found": the engine does not ship the watcher. */
const NOT_SHIPPED = 127;
const MAX_STDERR = 4096;
/** A record is a path (PATH_MAX) and a byte; more without a NUL is not the watcher talking. */
const MAX_RECORD = 8192;
/** Events waiting for their stat; past this the watch has fallen behind and ends. */
const MAX_BACKLOG = 10_000;
/** The watcher reports its watches in place within this, or the watch fails. */
const START_DEADLINE_MS = 30_000;
/** The engine writes a file as a temporary sibling renamed over it (packages/agent files.c). */
const ENGINE_WRITE_TEMP = /(^|\/)\.mitos-write-[0-9a-f]+$/;

function dirOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

export interface Watcher {
  stop(): void;
}

export interface WatchRequest {
  engine: Engine;
  sandboxId: string;
  account: Account;
  root: string;
  recursive: boolean;
  /** Stat each created, written or changed path (envd's `includeEntry`). */
  withStat: boolean;
  onEvents(events: WatchEvent[]): void;
  onError(err: unknown): void;
}

/** Resolves once the watch is in place: every change after it is reported. */
export async function startWatcher(req: WatchRequest): Promise<Watcher> {
  const { engine, sandboxId, root } = req;
  const stat = await engine.files.stat(sandboxId, root);
  if (stat.kind !== 'dir') throw new MitosError('invalid_request', `${root} is not a directory`);
  const argv = [WATCHER_IN_SANDBOX, ...(req.recursive ? ['-r'] : []), root];
  const handle = await engine.startProcess(sandboxId, {
    ...asAccount(req.account, argv),
    cwd: '/',
    timeoutMs: 0,
  });
  return new Promise<Watcher>((resolve, reject) => {
    let pending: Buffer = Buffer.alloc(0);
    let started = false;
    let stopped = false;
    let stderr = '';
    let backlog = 0;
    const fail = (err: MitosError) => {
      if (stopped) return;
      watcher.stop();
      if (started) req.onError(err);
      else reject(err);
    };
    const startDeadline = setTimeout(
      () =>
        fail(
          new MitosError('exec_timeout', `the watcher for ${root} did not start within ${START_DEADLINE_MS / 1000} s`),
        ),
      START_DEADLINE_MS,
    );
    // Stats run in event order, so a client sees events in the order they happened.
    let delivered: Promise<void> = Promise.resolve();
    const watcher: Watcher = {
      stop() {
        stopped = true;
        clearTimeout(startDeadline);
        unsubscribe();
        handle.kill(9);
      },
    };
    /** Directory of the engine write whose temporary file was just renamed away. */
    let engineWriteIn: string | undefined;
    const deliver = (records: string[]) => {
      const events: WatchEvent[] = [];
      const push = (name: string, type: EventType) => {
        const last = events[events.length - 1];
        // A large write is many IN_MODIFY events; one WRITE per batch says the same.
        if (last !== undefined && last.type === type && last.name === name) return;
        events.push({ name, type, path: joinPath(root, name), stat: undefined });
      };
      for (const record of records) {
        const type = KINDS[record[0] ?? ''];
        const name = record.slice(1);
        if (type === undefined || name === '') continue;
        // An engine write is reported as envd reports writing a file in place: the temporary
        // file stays out of sight and the file it lands as is created and written.
        if (ENGINE_WRITE_TEMP.test(name)) {
          if (type === EventType.RENAME) engineWriteIn = dirOf(name);
          continue;
        }
        if (type === EventType.CREATE && engineWriteIn === dirOf(name)) {
          engineWriteIn = undefined;
          push(name, EventType.CREATE);
          push(name, EventType.WRITE);
          continue;
        }
        push(name, type);
      }
      if (events.length === 0) return;
      backlog += events.length;
      if (backlog > MAX_BACKLOG) {
        fail(new MitosError('rate_limited', `the watch on ${root} fell more than ${MAX_BACKLOG} events behind`));
        return;
      }
      delivered = delivered.then(async () => {
        if (req.withStat) {
          for (const e of events) {
            if (e.type === EventType.REMOVE || e.type === EventType.RENAME) continue;
            e.stat = await engine.files.stat(sandboxId, e.path).catch((): FileStat | undefined => undefined);
          }
        }
        backlog -= events.length;
        if (!stopped) req.onEvents(events);
      });
    };
    const unsubscribe = handle.subscribe({
      onStdout(chunk) {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        const records: string[] = [];
        for (let end = pending.indexOf(0); end >= 0; end = pending.indexOf(0)) {
          records.push(pending.subarray(0, end).toString('utf8'));
          pending = pending.subarray(end + 1);
        }
        if (pending.length > MAX_RECORD) {
          fail(new MitosError('internal', `the watcher for ${root} wrote a record over ${MAX_RECORD} bytes`));
          return;
        }
        if (!started && records[0] === 'S') {
          started = true;
          clearTimeout(startDeadline);
          records.shift();
          resolve(watcher);
        }
        if (started) deliver(records);
      },
      onStderr(chunk) {
        if (stderr.length < MAX_STDERR) stderr += chunk.toString('utf8');
      },
      onExit(result) {
        clearTimeout(startDeadline);
        if (stopped) return;
        if (started) {
          stopped = true;
          void delivered.then(() =>
            req.onError(
              new MitosError(
                'not_found',
                `the watch on ${root} ended: ${stderr.trim() || 'the directory was removed'}`,
              ),
            ),
          );
          return;
        }
        if (result.exitCode === NOT_SHIPPED) {
          DirWatcher.start(engine, sandboxId, root, req.recursive, req.onEvents, req.onError).then(resolve, reject);
          return;
        }
        reject(
          new MitosError('invalid_request', `cannot watch ${root}: ${stderr.trim() || `exit ${result.exitCode}`}`),
        );
      },
    });
  });
}
