/**
 * The file RPCs: ReadFile (server stream of chunks, the last one `eof`), WriteFile (client
 * stream: `open`, then data), List, Stat, Mkdir, Remove. A missing path is NotFound, so the
 * clients' `files.exists` works; modes are Go FileMode bits, as on /v1/files/list.
 */
import { posix } from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import type { Engine, FileStat } from '@mitos/engine';
import { MAX_BODY_BYTES, MitosError } from '@mitos/protocol';
import { engineFailure } from '../errors.js';
import { goFileMode } from '../records.js';
import { requirePath } from '../validate.js';
import type {
  ChunkSchema,
  FileInfoSchema,
  ListRequest,
  ListResponseSchema,
  WriteFileOpen,
  WriteFileRequest,
} from './gen/sandbox/v1/sandbox_pb.js';
import { sandboxIdFrom } from './target.js';

/** ReadFile chunk size: small enough to stream, large enough that framing costs nothing. */
export const READ_CHUNK_BYTES = 256 * 1024;
/** The most WriteFile (and Upload) accept in one call, as /v1/files/write does. */
export const MAX_WRITE_BYTES = MAX_BODY_BYTES;
const DEFAULT_FILE_MODE = 0o644;

type FileInfoInit = MessageInitShape<typeof FileInfoSchema>;

/** Resolves sandbox and path and runs `op`, reporting engine failures with {sandbox, path}. */
async function onFile<T>(
  ctx: HandlerContext,
  rawPath: string,
  op: (sandbox: string, path: string) => Promise<T>,
): Promise<T> {
  const sandbox = sandboxIdFrom(ctx.requestHeader);
  const path = requirePath(rawPath);
  // The file operation's lookup is the only one (not_found, sandbox_not_running).
  try {
    return await op(sandbox, path);
  } catch (err) {
    if (err instanceof ConnectError) throw err;
    throw engineFailure(err, 'file_failed', { sandbox, path });
  }
}

export async function* readFile(
  engine: Engine,
  path: string,
  ctx: HandlerContext,
): AsyncIterable<MessageInitShape<typeof ChunkSchema>> {
  const data = await onFile(ctx, path, (sandbox, p) => engine.files.read(sandbox, p));
  for (let offset = 0; offset < data.length; offset += READ_CHUNK_BYTES) {
    const end = Math.min(offset + READ_CHUNK_BYTES, data.length);
    yield { data: data.subarray(offset, end), eof: end === data.length };
  }
  if (data.length === 0) yield { eof: true };
}

export async function writeFile(engine: Engine, requests: AsyncIterable<WriteFileRequest>, ctx: HandlerContext) {
  const { open, data } = await collect<WriteFileRequest, WriteFileOpen>(requests, 'WriteFileRequest', (msg) =>
    msg.case === 'data' ? msg.value : undefined,
  );
  const mode = open.mode === 0 ? DEFAULT_FILE_MODE : open.mode;
  await onFile(ctx, open.path, (sandbox, path) => engine.files.write(sandbox, path, data, mode));
  return { bytesWritten: BigInt(data.length) };
}

/**
 * A client stream whose first message is `open` and whose later messages carry bytes, read
 * to the end within MAX_WRITE_BYTES.
 */
export async function collect<M extends { msg: { case: string | undefined; value?: unknown } }, O>(
  requests: AsyncIterable<M>,
  name: string,
  bytesOf: (msg: M['msg']) => Uint8Array | undefined,
): Promise<{ open: O; data: Buffer }> {
  let open: O | undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const request of requests) {
    if (open === undefined) {
      if (request.msg.case !== 'open') throw new MitosError('invalid_json', `the first ${name} must carry \`open\``);
      open = request.msg.value as O;
      continue;
    }
    const bytes = bytesOf(request.msg);
    if (bytes === undefined) throw new MitosError('invalid_json', `only the first ${name} may carry \`open\``);
    total += bytes.length;
    if (total > MAX_WRITE_BYTES) {
      throw new MitosError('body_too_large', `more than ${MAX_WRITE_BYTES} bytes in one ${name} stream`, {
        max_bytes: MAX_WRITE_BYTES,
      });
    }
    chunks.push(bytes);
  }
  if (open === undefined) throw new MitosError('invalid_json', `the first ${name} must carry \`open\``);
  return { open, data: Buffer.concat(chunks, total) };
}

const FILTERS: Record<string, (stat: FileStat) => boolean> = {
  '': () => true,
  'is_dir=true': (stat) => stat.kind === 'dir',
  'is_dir=false': (stat) => stat.kind !== 'dir',
};

export async function list(
  engine: Engine,
  req: ListRequest,
  ctx: HandlerContext,
): Promise<MessageInitShape<typeof ListResponseSchema>> {
  const filter = FILTERS[req.filter.replaceAll(' ', '')];
  if (filter === undefined) {
    throw new MitosError(
      'invalid_request',
      `filter ${JSON.stringify(req.filter)} is not supported`,
      {},
      {
        remediation: 'use "is_dir=true", "is_dir=false" or no filter',
      },
    );
  }
  if (req.pageSize < 0) throw new MitosError('invalid_request', 'page_size must be >= 0');
  const start = pageStart(req.pageToken);
  const stats = await onFile(ctx, req.parent, (sandbox, path) => engine.files.list(sandbox, path));
  // Sorted, so a page token (an offset) means the same thing on the next call.
  const entries = stats.filter(filter).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const end = req.pageSize === 0 ? entries.length : Math.min(entries.length, start + req.pageSize);
  const isSelf = stats.length === 1 && stats[0]?.kind !== 'dir';
  return {
    entries: entries
      .slice(start, end)
      .map((stat) => fileInfo(stat, isSelf ? req.parent : posix.join(req.parent, stat.name))),
    nextPageToken: end < entries.length ? String(end) : '',
  };
}

function pageStart(token: string): number {
  if (token === '') return 0;
  if (!/^\d{1,9}$/.test(token)) throw new MitosError('invalid_request', 'page_token is not one this server issued');
  return Number(token);
}

export async function stat(engine: Engine, path: string, ctx: HandlerContext): Promise<FileInfoInit> {
  const info = await onFile(ctx, path, (sandbox, p) => engine.files.stat(sandbox, p));
  return fileInfo(info, path);
}

export async function mkdir(engine: Engine, path: string, ctx: HandlerContext): Promise<Record<string, never>> {
  await onFile(ctx, path, (sandbox, p) => engine.files.mkdir(sandbox, p));
  return {};
}

/** Without `recursive`, a directory that still has entries is refused, as rmdir(2) would. */
export async function remove(
  engine: Engine,
  req: { path: string; recursive: boolean },
  ctx: HandlerContext,
): Promise<Record<string, never>> {
  await onFile(ctx, req.path, async (sandbox, path) => {
    const target = await engine.files.stat(sandbox, path);
    if (target.kind === 'dir' && !req.recursive && (await engine.files.list(sandbox, path)).length > 0) {
      throw new ConnectError(
        `directory ${JSON.stringify(path)} is not empty; set recursive to remove it with its contents`,
        Code.FailedPrecondition,
      );
    }
    await engine.files.remove(sandbox, path);
  });
  return {};
}

export function fileInfo(info: FileStat, path: string): FileInfoInit {
  return {
    name: info.name,
    path,
    isDir: info.kind === 'dir',
    size: BigInt(info.size),
    mode: goFileMode(info.kind, info.mode) >>> 0,
    modifiedAtUnix: BigInt(Math.floor(info.mtimeMs / 1000)),
  };
}
