/** E2B's offset paging for short listings: `limit` (at most 100) and `nextToken`, the next offset in `X-Next-Token`. */
import type { Context } from 'hono';

const PAGE_MAX = 100;

export function offsetPage<T>(c: Context, items: T[]): T[] {
  const limit = Math.min(PAGE_MAX, Math.max(1, Number(c.req.query('limit') ?? PAGE_MAX) || PAGE_MAX));
  const offset = Math.max(0, Number(c.req.query('nextToken') ?? 0) || 0);
  if (offset + limit < items.length) c.header('X-Next-Token', String(offset + limit));
  return items.slice(offset, offset + limit);
}
