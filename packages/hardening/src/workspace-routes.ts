/** Fuzz specs of the workspace routes (`:name` is fuzzed like a sandbox id). */
import type { FuzzSpec } from './routes.js';

const ws = (name: string, rest = '') => `/v1/workspaces/${name}${rest}`;

export const WORKSPACE_SPECS: FuzzSpec[] = [
  {
    key: 'POST /v1/workspaces',
    method: 'POST',
    path: () => '/v1/workspaces',
    body: () => ({ name: 'fuzz-ws', retention: { revisions: 3, min_age_seconds: 60 } }),
    idField: 'name',
  },
  { key: 'GET /v1/workspaces', method: 'GET', path: () => '/v1/workspaces', liveSafe: true },
  { key: 'GET /v1/workspaces/:name', method: 'GET', path: (id) => ws(id), pathId: true, liveSafe: true },
  { key: 'DELETE /v1/workspaces/:name', method: 'DELETE', path: (id) => ws(id), pathId: true },
  {
    key: 'POST /v1/workspaces/:name/retention',
    method: 'POST',
    path: (id) => ws(id, '/retention'),
    body: () => ({ retention: { revisions: 2 } }),
    pathId: true,
  },
  { key: 'GET /v1/workspaces/:name/log', method: 'GET', path: (id) => ws(id, '/log'), pathId: true, liveSafe: true },
  {
    key: 'GET /v1/workspaces/:name/diff',
    method: 'GET',
    path: (id) => ws(id, '/diff'),
    query: () => ({ revision: 'x-1', against: 'y-1' }),
    pathId: true,
    liveSafe: true,
  },
  {
    key: 'POST /v1/workspaces/:name/commit',
    method: 'POST',
    path: (id) => ws(id, '/commit'),
    body: (ids) => ({ sandbox: ids.sandbox, message: 'fuzz' }),
    idField: 'sandbox',
    pathId: true,
  },
  {
    key: 'POST /v1/workspaces/:name/fork',
    method: 'POST',
    path: (id) => ws(id, '/fork'),
    body: () => ({ workspace: 'fuzz-fork', revision: 'x-1' }),
    pathId: true,
  },
  {
    key: 'POST /v1/workspaces/:name/revert',
    method: 'POST',
    path: (id) => ws(id, '/revert'),
    body: () => ({ revision: 'x-1' }),
    pathId: true,
  },
  {
    key: 'POST /v1/workspaces/:name/checkout',
    method: 'POST',
    path: (id) => ws(id, '/checkout'),
    body: (ids) => ({ sandbox: ids.sandbox, revision: 'x-1' }),
    idField: 'sandbox',
    pathId: true,
  },
];
