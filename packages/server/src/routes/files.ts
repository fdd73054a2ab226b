/**
 * POST /v1/files/{read,write,list,remove,mkdir} (wire-v1.md 4.10-4.14), with the seed
 * server's bugs fixed: `binary` is honoured both ways (lowercase hex on the wire), `mode` is
 * honoured, list always returns an array and also lists a regular file (as itself), and a
 * missing path is 404 not_found so the SDK's `files.exists` works.
 */
import {
  type FileListResponse,
  FilePathRequestSchema,
  FileReadRequestSchema,
  type FileReadResponse,
  FileWriteRequestSchema,
  MitosError,
  type StatusResponse,
} from '@mitos/protocol';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { AppEnv, SandboxRouteDeps } from '../env.js';
import { engineFailure } from '../errors.js';
import { readJson } from '../json-body.js';
import { sandboxIdOf } from '../lookup.js';
import { toFileEntry } from '../records.js';
import type { Router } from '../routing.js';
import { requirePath } from '../validate.js';

const DEFAULT_FILE_MODE = 0o644;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const OK: StatusResponse = { status: 'ok' };

export function registerFileRoutes(router: Router, { engine }: SandboxRouteDeps): void {
  router.route('/v1/files/read', {
    POST: async (c) => {
      const { sandbox, path, body } = await target(c, FileReadRequestSchema);
      const data = await fileOp(engine.files.read(sandbox, path), sandbox, path);
      const out: FileReadResponse = {
        content: body.binary === true ? data.toString('hex') : data.toString('utf8'),
        size: data.length,
      };
      return c.json(out);
    },
  });

  router.route('/v1/files/write', {
    POST: async (c) => {
      const { sandbox, path, body } = await target(c, FileWriteRequestSchema);
      const data = body.binary === true ? decodeHex(body.content) : Buffer.from(body.content, 'utf8');
      const mode = body.mode === undefined || body.mode === 0 ? DEFAULT_FILE_MODE : body.mode;
      await fileOp(engine.files.write(sandbox, path, data, mode), sandbox, path);
      return c.json(OK);
    },
  });

  router.route('/v1/files/list', {
    POST: async (c) => {
      const { sandbox, path } = await target(c, FilePathRequestSchema);
      const stats = await fileOp(engine.files.list(sandbox, path), sandbox, path);
      const out: FileListResponse = { entries: stats.map(toFileEntry) };
      return c.json(out);
    },
  });

  router.route('/v1/files/remove', {
    POST: async (c) => {
      const { sandbox, path } = await target(c, FilePathRequestSchema);
      await fileOp(engine.files.remove(sandbox, path), sandbox, path);
      return c.json(OK);
    },
  });

  router.route('/v1/files/mkdir', {
    POST: async (c) => {
      const { sandbox, path } = await target(c, FilePathRequestSchema);
      await fileOp(engine.files.mkdir(sandbox, path), sandbox, path);
      return c.json(OK);
    },
  });
}

type FileBody = z.ZodType<{ sandbox: string; path: string }>;

/**
 * Parses the body and checks the sandbox id and path every file verb starts from; the engine's
 * file call looks the sandbox up itself.
 */
async function target<S extends FileBody>(c: Context<AppEnv>, schema: S) {
  const body = readJson(c, schema) as z.infer<S>;
  const path = requirePath(body.path);
  return { sandbox: sandboxIdOf(c, body.sandbox), path, body };
}

/** Every engine file failure leaves here with context {sandbox, path}. */
async function fileOp<T>(op: Promise<T>, sandbox: string, path: string): Promise<T> {
  try {
    return await op;
  } catch (err) {
    throw engineFailure(err, 'file_failed', { sandbox, path });
  }
}

function decodeHex(content: string): Buffer {
  // Buffer.from(x, 'hex') stops silently at the first bad digit; a truncated write would be
  // worse than an error.
  if (!HEX.test(content)) {
    throw new MitosError('invalid_json', 'content is not valid hex (binary writes send lowercase hex of the bytes)');
  }
  return Buffer.from(content, 'hex');
}
