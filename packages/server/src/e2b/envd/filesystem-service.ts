/**
 * envd's `filesystem.Filesystem` service over the engine's file API. Paths resolve against the
 * call's account home; directories the default user makes are the user's.
 */

import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import type { FileStat } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { type Accounts, resolvePath } from '../accounts.js';
import type { E2bContext } from '../context.js';
import { toConnectError } from '../errors.js';
import type { Filesystem, WatchDirResponseSchema } from '../gen/filesystem/filesystem_pb.js';
import type { WatchEvent } from './dir-watcher.js';
import { joinPath, makeDirAs, moveAs, toEntryInfo } from './entries.js';
import { startWatcher, type Watcher } from './event-watcher.js';
import { EventQueue } from './output-queue.js';
import { callOf } from './process-service.js';
import type { EnvdCall } from './request.js';
import { type PollingWatchers, toFilesystemEvent } from './watchers.js';

const MAX_LIST_DEPTH = 64;
/** Watch events a WatchDir client may leave unread before its stream ends. */
const MAX_UNREAD_EVENTS = 10_000;

export function filesystemService(
  ctx: E2bContext,
  accounts: Accounts,
  watchers: PollingWatchers,
): ServiceImpl<typeof Filesystem> {
  const { engine } = ctx;
  const guard =
    <Req, Res>(fn: (req: Req, call: EnvdCall) => Promise<Res>) =>
    async (req: Req, hctx: import('@connectrpc/connect').HandlerContext): Promise<Res> => {
      try {
        const call = callOf(hctx);
        await accounts.ready(call.sandboxId);
        return await fn(req, call);
      } catch (err) {
        throw toConnectError(err, ctx.logger);
      }
    };
  const statOf = async (call: EnvdCall, path: string) =>
    toEntryInfo(path, await engine.files.stat(call.sandboxId, path));

  return {
    stat: guard(async (req, call) => ({ entry: await statOf(call, resolvePath(call.account, req.path)) })),

    makeDir: guard(async (req, call) => {
      const path = resolvePath(call.account, req.path);
      const existing = await engine.files.stat(call.sandboxId, path).catch(() => undefined);
      if (existing !== undefined) throw new MitosError('conflict', `${path} already exists`);
      await makeDirAs(engine, call.sandboxId, call.account, path);
      return { entry: await statOf(call, path) };
    }),

    move: guard(async (req, call) => {
      const from = resolvePath(call.account, req.source);
      const to = resolvePath(call.account, req.destination);
      await moveAs(engine, call.sandboxId, call.account, from, to);
      return { entry: await statOf(call, to) };
    }),

    listDir: guard(async (req, call) => {
      const root = resolvePath(call.account, req.path);
      const stat = await engine.files.stat(call.sandboxId, root);
      if (stat.kind !== 'dir') throw new MitosError('invalid_request', `${root} is not a directory`);
      const depth = Math.min(Math.max(req.depth, 1), MAX_LIST_DEPTH);
      const entries: ReturnType<typeof toEntryInfo>[] = [];
      let level: string[] = [root];
      for (let d = 0; d < depth && level.length > 0; d++) {
        const next: string[] = [];
        for (const dir of level) {
          const listed: FileStat[] = await engine.files.list(call.sandboxId, dir);
          for (const e of listed) {
            const path = joinPath(dir, e.name);
            entries.push(toEntryInfo(path, e));
            if (e.kind === 'dir') next.push(path);
          }
        }
        level = next;
      }
      return { entries };
    }),

    remove: guard(async (req, call) => {
      const path = resolvePath(call.account, req.path);
      await engine.files.stat(call.sandboxId, path);
      await engine.files.remove(call.sandboxId, path);
      return {};
    }),

    async *watchDir(req, hctx) {
      const queue = new EventQueue<WatchDirResponseInit>();
      let call: EnvdCall;
      let watcher: Watcher | undefined;
      try {
        call = callOf(hctx);
        await accounts.ready(call.sandboxId);
        const root = resolvePath(call.account, req.path);
        watcher = await startWatcher({
          engine,
          sandboxId: call.sandboxId,
          account: call.account,
          root,
          recursive: req.recursive,
          withStat: req.includeEntry,
          onEvents: (events: WatchEvent[]) => {
            // A client that does not read cannot make the server hold a sandbox's events forever.
            if (queue.size + events.length > MAX_UNREAD_EVENTS) {
              watcher?.stop();
              queue.end(toConnectError(new MitosError('rate_limited', 'the watch client fell behind'), ctx.logger));
              return;
            }
            for (const e of events)
              queue.push({ event: { case: 'filesystem', value: toFilesystemEvent(e, req.includeEntry) } });
          },
          onError: (err) => queue.end(toConnectError(err, ctx.logger)),
        });
      } catch (err) {
        throw toConnectError(err, ctx.logger);
      }
      try {
        yield { event: { case: 'start', value: {} } };
        yield* queue.drain(hctx.signal, call.keepaliveSeconds * 1000, () => ({
          event: { case: 'keepalive', value: {} },
        }));
      } finally {
        watcher?.stop();
      }
    },

    createWatcher: guard(async (req, call) => {
      const root = resolvePath(call.account, req.path);
      return { watcherId: await watchers.create(call.sandboxId, call.account, root, req.recursive, req.includeEntry) };
    }),

    getWatcherEvents: guard(async (req, call) => ({ events: watchers.take(call.sandboxId, req.watcherId) })),

    removeWatcher: guard(async (req, call) => {
      watchers.remove(call.sandboxId, req.watcherId);
      return {};
    }),
  };
}

type WatchDirResponseInit = MessageInitShape<typeof WatchDirResponseSchema>;
