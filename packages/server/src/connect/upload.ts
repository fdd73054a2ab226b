/**
 * Upload: a tar archive streamed in (`open.dest`, then chunks), extracted under `dest` by the
 * sandbox's own tar, so every path in the archive resolves inside the sandbox and nothing is
 * written with more rights than the sandbox has. `bytes_written` is the total size of the
 * regular files in the archive.
 */
import type { HandlerContext } from '@connectrpc/connect';
import type { Engine } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import { engineFailure } from '../errors.js';
import { requirePath } from '../validate.js';
import { shellQuote } from './command.js';
import { collect } from './files.js';
import type { UploadOpen, UploadRequest } from './gen/sandbox/v1/sandbox_pb.js';
import { sandboxIdFrom } from './target.js';

const EXTRACT_TIMEOUT_MS = 300_000;
const BLOCK = 512;

export async function upload(engine: Engine, requests: AsyncIterable<UploadRequest>, ctx: HandlerContext) {
  const { open, data } = await collect<UploadRequest, UploadOpen>(requests, 'UploadRequest', (msg) =>
    msg.case === 'chunk' ? msg.value : undefined,
  );
  const sandbox = sandboxIdFrom(ctx.requestHeader);
  const dest = requirePath(open.dest);
  const bytes = regularFileBytes(data);
  // startProcess's lookup is the only one (not_found, sandbox_not_running).
  const dir = shellQuote(dest);
  try {
    const tar = await engine.startProcess(sandbox, {
      // tar stops at the end-of-archive blocks; cat drains the rest, so the process outlives
      // our writes (a write to a process that has exited fails the whole exec).
      command: `mkdir -p -- ${dir} && tar -x --no-same-owner --no-same-permissions -f - -C ${dir}; rc=$?; cat >/dev/null; exit $rc`,
      timeoutMs: EXTRACT_TIMEOUT_MS,
      stdin: true,
    });
    tar.write(data);
    tar.closeStdin();
    const result = await tar.wait();
    if (result.exitCode !== 0) {
      throw new MitosError(
        'file_failed',
        `tar could not extract the archive: ${result.stderr.toString('utf8').trim()}`,
        {
          sandbox,
          path: dest,
        },
      );
    }
  } catch (err) {
    throw engineFailure(err, 'file_failed', { sandbox, path: dest });
  }
  return { bytesWritten: BigInt(bytes) };
}

/**
 * Walks the ustar headers: the sum of the sizes of regular files. Refuses what is not a tar,
 * before anything is written.
 */
export function regularFileBytes(archive: Buffer): number {
  let total = 0;
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return total;
    if (!validChecksum(header)) throw notTar('a header checksum does not match');
    const size = octal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    if (type === '0' || type === '\0' || type === '7') total += size;
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw notTar('it ends inside a header or before its end-of-archive blocks');
}

function validChecksum(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
  return sum === octal(header.subarray(148, 156));
}

function octal(field: Buffer): number {
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(text)) throw notTar('a numeric header field is not octal');
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function notTar(why: string): MitosError {
  return new MitosError('invalid_request', `the upload is not a tar archive: ${why}`);
}
