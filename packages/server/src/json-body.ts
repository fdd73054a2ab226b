/**
 * Turns the buffered request body into a validated value. Unparsable JSON is 400 invalid_json;
 * a body that parses but does not fit the schema throws the ZodError, which errors.ts renders
 * as 400 invalid_json with a readable cause. Unknown fields are ignored (the schemas are loose).
 */
import { MitosError } from '@mitos/protocol';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from './env.js';
import { timeSync } from './server-timing.js';

const utf8 = new TextDecoder();

export function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  return timeSync(c, 'parse', () => parseJson(c, schema));
}

function parseJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  const raw = c.get('rawBody');
  const text = raw === undefined ? '' : utf8.decode(raw);
  if (text.trim() === '') throw new MitosError('invalid_json', 'request body is empty; expected a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new MitosError('invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MitosError('invalid_json', 'request body must be a JSON object');
  }
  return schema.parse(value);
}
