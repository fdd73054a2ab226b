/**
 * Every route the server registers, read from the hono app itself (so a route added later
 * without a fuzz spec fails the suite), and the fuzz spec of each: a base request whose
 * fields the fuzzer breaks one at a time.
 */
import type { Engine } from '@mitos/engine';
import { createApp } from '@mitos/server';
import Database from 'better-sqlite3';
import { WORKSPACE_SPECS } from './workspace-routes.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteKey {
  method: Method;
  path: string;
}

/** `METHOD path` for every handler route (405 catch-alls and middleware left out). */
export function registeredRoutes(): string[] {
  const db = new Database(':memory:');
  const engine = { onSandboxGone: () => () => {} } as unknown as Engine;
  const app = createApp({ engine, db, previewSecret: 'x'.repeat(32) });
  const keys = new Set<string>();
  for (const r of app.routes) {
    if (r.path === '*' || r.path === '/*') continue;
    if (r.method === 'ALL' && !r.path.startsWith('/preview/')) continue;
    keys.add(`${r.method} ${r.path}`);
  }
  db.close();
  return [...keys].sort();
}

export interface Ids {
  /** A running sandbox the fuzzer may call (never destroyed by the fuzz cases). */
  sandbox: string;
  /** A valid id of no sandbox. */
  ghost: string;
}

/** One fuzzable route (workspace-routes.ts holds the workspace ones). */
export interface FuzzSpec {
  key: string;
  method: Method | 'ALL';
  /** Build the path for a given `:id` (or preview token). */
  path: (id: string) => string;
  /** Base body fields; each is replaced by hostile values in turn. */
  body?: (ids: Ids) => Record<string, unknown>;
  /** Query parameters, fuzzed like body fields. */
  query?: (ids: Ids) => Record<string, string>;
  /** The base request is safe to send with the live sandbox (it creates or destroys nothing). */
  liveSafe?: boolean;
  /** Which field holds a sandbox id (replaced by the invalid id set). */
  idField?: string;
  /** Path takes an id. */
  pathId?: boolean;
}

const q = (path: string, query?: Record<string, string>) =>
  query ? `${path}?${new URLSearchParams(query).toString()}` : path;

export const FUZZ_SPECS: FuzzSpec[] = [
  { key: 'GET /v1/health', method: 'GET', path: () => '/v1/health' },
  { key: 'GET /v1/openapi.json', method: 'GET', path: () => '/v1/openapi.json' },
  { key: 'GET /v1/templates', method: 'GET', path: () => '/v1/templates' },
  {
    key: 'POST /v1/templates',
    method: 'POST',
    path: () => '/v1/templates',
    body: () => ({ id: 'python', init_wait_seconds: 0 }),
    liveSafe: true,
  },
  {
    key: 'GET /v1/templates/:id/build',
    method: 'GET',
    path: (id) => `/v1/templates/${id}/build`,
    pathId: true,
  },
  { key: 'DELETE /v1/templates/:id', method: 'DELETE', path: (id) => `/v1/templates/${id}`, pathId: true },
  {
    key: 'POST /v1/templates/:id/push',
    method: 'POST',
    path: (id) => `/v1/templates/${id}/push`,
    body: () => ({ reference: '127.0.0.1:1/fuzz/never:1' }),
    pathId: true,
  },
  { key: 'POST /v1/templates/prune', method: 'POST', path: () => '/v1/templates/prune', body: () => ({}) },
  {
    key: 'POST /v1/template-context/missing',
    method: 'POST',
    path: () => '/v1/template-context/missing',
    body: () => ({ digests: ['0'.repeat(64)] }),
    liveSafe: true,
  },
  {
    key: 'POST /v1/template-context/:sha256',
    method: 'POST',
    path: (id) => `/v1/template-context/${id}`,
    body: () => ({ bytes: 'not matching the name' }),
    pathId: true,
  },
  {
    key: 'POST /v1/fork',
    method: 'POST',
    path: () => '/v1/fork',
    body: () => ({ template: 'no-such-template', id: 'fuzz-never', limits: { memory_mb: 128 } }),
    idField: 'id',
  },
  { key: 'GET /v1/sandboxes', method: 'GET', path: () => '/v1/sandboxes' },
  { key: 'GET /v1/sandboxes/:id', method: 'GET', path: (id) => `/v1/sandboxes/${id}`, pathId: true, liveSafe: true },
  { key: 'DELETE /v1/sandboxes/:id', method: 'DELETE', path: (id) => `/v1/sandboxes/${id}`, pathId: true },
  {
    key: 'GET /v1/sandboxes/:id/network',
    method: 'GET',
    path: (id) => `/v1/sandboxes/${id}/network`,
    pathId: true,
    liveSafe: true,
  },
  {
    key: 'PUT /v1/sandboxes/:id/network',
    method: 'PUT',
    path: (id) => `/v1/sandboxes/${id}/network`,
    body: () => ({ egress: 'deny', inbound: 'deny', allow_cidrs: [] }),
    pathId: true,
    liveSafe: true,
  },
  {
    key: 'POST /v1/sandboxes/:id/fork',
    method: 'POST',
    path: (id) => `/v1/sandboxes/${id}/fork`,
    body: () => ({ count: 1, ids: ['fuzz-child'] }),
    pathId: true,
  },
  {
    key: 'POST /v1/sandboxes/:id/forward',
    method: 'POST',
    path: (id) => `/v1/sandboxes/${id}/forward`,
    body: () => ({ guest_port: 8080 }),
    pathId: true,
  },
  {
    key: 'GET /v1/sandboxes/:id/forward',
    method: 'GET',
    path: (id) => `/v1/sandboxes/${id}/forward`,
    pathId: true,
    liveSafe: true,
  },
  {
    key: 'DELETE /v1/sandboxes/:id/forward/:port',
    method: 'DELETE',
    path: (id) => `/v1/sandboxes/${id}/forward/1`,
    pathId: true,
  },
  {
    key: 'POST /v1/exec',
    method: 'POST',
    path: () => '/v1/exec',
    body: (ids) => ({ sandbox: ids.sandbox, command: 'true', timeout: 5, working_dir: '/workspace', env: { A: 'b' } }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'POST /v1/exec/stream',
    method: 'POST',
    path: () => '/v1/exec/stream',
    body: (ids) => ({ sandbox: ids.sandbox, command: 'true', timeout: 5, working_dir: '/workspace', env: { A: 'b' } }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'POST /v1/run_code/stream',
    method: 'POST',
    path: () => '/v1/run_code/stream',
    body: (ids) => ({ sandbox: ids.sandbox, code: '1+1', language: 'python', timeout: 10 }),
    idField: 'sandbox',
    liveSafe: true,
  },
  ...['read', 'write', 'list', 'remove', 'mkdir'].map(
    (verb): FuzzSpec => ({
      key: `POST /v1/files/${verb}`,
      method: 'POST',
      path: () => `/v1/files/${verb}`,
      body: (ids) => ({
        sandbox: ids.sandbox,
        path: '/workspace/fuzz/file.txt',
        ...(verb === 'write' && { content: 'fuzz', mode: 0o644, binary: false }),
        ...(verb === 'read' && { binary: false }),
      }),
      idField: 'sandbox',
      // remove is fuzzed on a throwaway sandbox: a traversal path that resolves to / wipes it.
      liveSafe: verb !== 'remove',
    }),
  ),
  {
    key: 'POST /v1/set_timeout',
    method: 'POST',
    path: () => '/v1/set_timeout',
    body: (ids) => ({ sandbox: ids.ghost, timeout_seconds: 3600 }),
    idField: 'sandbox',
  },
  {
    key: 'POST /v1/pause',
    method: 'POST',
    path: () => '/v1/pause',
    body: (ids) => ({ sandbox: ids.ghost }),
    idField: 'sandbox',
  },
  {
    key: 'POST /v1/resume',
    method: 'POST',
    path: () => '/v1/resume',
    body: (ids) => ({ sandbox: ids.sandbox }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'POST /v1/processes',
    method: 'POST',
    path: () => '/v1/processes',
    body: (ids) => ({ sandbox: ids.sandbox, command: 'true', working_dir: '/workspace', env: { A: 'b' } }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'GET /v1/processes',
    method: 'GET',
    path: () => '/v1/processes',
    query: (ids) => ({ sandbox: ids.sandbox }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'POST /v1/processes/signal',
    method: 'POST',
    path: () => '/v1/processes/signal',
    body: (ids) => ({ sandbox: ids.sandbox, pid: 99999, signal: 15 }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'POST /v1/processes/stream',
    method: 'POST',
    path: () => '/v1/processes/stream',
    body: (ids) => ({ sandbox: ids.sandbox, pid: 99999 }),
    idField: 'sandbox',
    liveSafe: true,
  },
  { key: 'GET /v1/metering', method: 'GET', path: () => '/v1/metering' },
  // An endless stream to a good request: the fuzzers only ever send it refusable ones (a body,
  // a bad key, a wrong method), which console.test.ts checks are refused.
  { key: 'GET /v1/events', method: 'GET', path: () => '/v1/events' },
  {
    key: 'POST /v1/preview',
    method: 'POST',
    path: () => '/v1/preview',
    body: (ids) => ({ sandbox: ids.sandbox, port: 8080 }),
    idField: 'sandbox',
    liveSafe: true,
  },
  {
    key: 'GET /v1/pty',
    method: 'GET',
    path: () => '/v1/pty',
    query: (ids) => ({ sandbox: ids.sandbox, cols: '80', rows: '24' }),
    idField: 'sandbox',
    liveSafe: true,
  },
  ...WORKSPACE_SPECS,
  { key: 'ALL /preview/:token', method: 'ALL', path: (token) => `/preview/${token}`, pathId: true },
  {
    key: 'ALL /preview/:token/*',
    method: 'ALL',
    path: (token) => `/preview/${token}/x/../../etc/passwd`,
    pathId: true,
  },
];

export function specPath(spec: FuzzSpec, ids: Ids, id = ids.sandbox): string {
  return q(spec.path(id), spec.query?.(ids));
}
