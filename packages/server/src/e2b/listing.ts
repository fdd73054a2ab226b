/**
 * GET /sandboxes (v1: running only) and GET /v2/sandboxes (state, metadata, template and start
 * filters, order, and cursor pagination through the X-Next-Token header).
 */
import { MitosError } from '@mitos/protocol';
import type { Context } from 'hono';
import type { E2bContext } from './context.js';
import { listedSandbox } from './shapes.js';

const MAX_LIMIT = 100;

function metadataFilter(raw: string | undefined): [string, string][] {
  if (raw === undefined || raw === '') return [];
  // The SDK encodes each key and value, then joins them as a query string.
  return [...new URLSearchParams(raw).entries()].map(([k, v]) => [safeDecode(k), safeDecode(v)]);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new MitosError('invalid_request', 'metadata filter is not URL-encoded');
  }
}

function statesFilter(c: Context, version: 'v1' | 'v2'): Set<string> {
  if (version === 'v1') return new Set(['running']);
  const raw = (c.req.queries('state') ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const s of raw) {
    if (s !== 'running' && s !== 'paused')
      throw new MitosError('invalid_request', `unknown state ${JSON.stringify(s)}`);
  }
  return new Set(raw.length > 0 ? raw : ['running', 'paused']);
}

export function listSandboxes(c: Context<{ Variables: { tenant: string } }>, ctx: E2bContext, version: 'v1' | 'v2') {
  const wantedMetadata = metadataFilter(c.req.query('metadata'));
  const states = statesFilter(c, version);
  const template = c.req.query('template');
  const startedAfterRaw = c.req.query('startedAfter');
  const startedAfter = startedAfterRaw ? Date.parse(startedAfterRaw) : undefined;
  if (startedAfter !== undefined && Number.isNaN(startedAfter))
    throw new MitosError('invalid_request', 'startedAfter is not a date-time');
  const order = c.req.query('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new MitosError('invalid_request', 'order must be asc or desc');
  const limitRaw = c.req.query('limit');
  const limit = limitRaw === undefined ? MAX_LIMIT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new MitosError('invalid_request', `limit must be 1..${MAX_LIMIT}`);

  const matching = ctx.store
    .listByOwner(c.get('tenant'))
    .flatMap((row) => {
      const info = ctx.engine.get(row.id);
      if (info === undefined || info.state === 'terminated') return [];
      const state = info.state === 'paused' ? 'paused' : 'running';
      if (!states.has(state)) return [];
      if (template !== undefined && template !== '' && row.template !== template) return [];
      if (startedAfter !== undefined && row.startedAt.getTime() < startedAfter) return [];
      if (!wantedMetadata.every(([k, v]) => row.metadata[k] === v)) return [];
      return [{ row, info }];
    })
    .sort((a, b) => a.row.startedAt.getTime() - b.row.startedAt.getTime() || a.row.id.localeCompare(b.row.id));
  if (order === 'desc') matching.reverse();

  const token = c.req.query('nextToken');
  const start = token ? matching.findIndex((m) => m.row.id === token) : 0;
  if (start < 0) throw new MitosError('invalid_request', 'nextToken does not name a listed sandbox');
  const page = version === 'v1' ? matching : matching.slice(start, start + limit);
  const next = version === 'v2' ? matching[start + limit] : undefined;
  if (next !== undefined) c.header('X-Next-Token', next.row.id);
  if (states.has('running'))
    c.header('X-Total-Running', String(matching.filter((m) => m.info.state !== 'paused').length));
  return c.json(page.map(({ row, info }) => listedSandbox(ctx, row, info)));
}
