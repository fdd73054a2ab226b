/**
 * JSON request bodies of the E2B surface (empty: `{}`), at most 1 MiB. The control plane's are
 * read off node's request when nothing has read it yet, so no fetch Request is built for them.
 */
import { MitosError } from '@mitos/protocol';
import type { Context } from 'hono';
import type { AppEnv } from '../env.js';
import { readRequestBody } from '../middleware/body-limit.js';

const MAX_BODY = 1024 * 1024;
const utf8 = new TextDecoder();

export async function readBody(c: Context): Promise<unknown> {
  return parseBody(utf8.decode(await readRequestBody(c as Context<AppEnv>, MAX_BODY)));
}

/** The body of a fetch Request (the code interpreter's routes, which hand the Request on). */
export async function readRequestJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.length > MAX_BODY) throw new MitosError('body_too_large', `request body is over ${MAX_BODY} bytes`);
  return parseBody(text);
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MitosError('invalid_json', 'request body is not JSON');
  }
}
