/**
 * envd's REST routes: `/files` (download; upload as multipart or octet-stream, gzip either
 * way), `/health`, `/envs`, `/metrics`. Errors are envd's `{code, message}`.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { MitosError } from '@mitos/protocol';
import { type Accounts, resolvePath } from '../accounts.js';
import type { E2bContext } from '../context.js';
import { sandboxMetric } from '../shapes.js';
import { giveTo, parentOf } from './entries.js';
import type { EnvdCall } from './request.js';

/** Largest upload accepted in one request. */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

export async function envdRest(
  ctx: E2bContext,
  accounts: Accounts,
  call: EnvdCall,
  path: string,
  req: Request,
): Promise<Response> {
  const url = new URL(req.url);
  if (path === '/health' && req.method === 'GET') return new Response(null, { status: 204 });
  await accounts.ready(call.sandboxId);
  if (path === '/envs' && req.method === 'GET') return Response.json(call.envVars);
  if (path === '/metrics' && req.method === 'GET') {
    // The call was checked live (envdCall); the usage call's own read brings the limits.
    const row = ctx.store.get(call.sandboxId);
    if (row === undefined) throw new MitosError('not_found', `sandbox "${call.sandboxId}" not found`);
    const m = await sandboxMetric(ctx, row);
    return Response.json({
      ts: m.timestampUnix,
      cpu_count: m.cpuCount,
      cpu_used_pct: m.cpuUsedPct,
      mem_total: m.memTotal,
      mem_used: m.memUsed,
      mem_cache: m.memCache,
      mem_total_mib: Math.round(m.memTotal / 1048576),
      mem_used_mib: Math.round(m.memUsed / 1048576),
      disk_used: m.diskUsed,
      disk_total: m.diskTotal,
    });
  }
  if (path === '/files' && req.method === 'GET') return download(ctx, call, url, req);
  if (path === '/files' && req.method === 'POST') return upload(ctx, call, url, req);
  throw new MitosError('not_found', `envd has no route ${req.method} ${path}`);
}

async function download(ctx: E2bContext, call: EnvdCall, url: URL, req: Request): Promise<Response> {
  const path = resolvePath(call.account, url.searchParams.get('path') ?? '');
  const stat = await ctx.engine.files.stat(call.sandboxId, path);
  if (stat.kind === 'dir') throw new MitosError('invalid_request', `${path} is a directory`);
  const data = await ctx.engine.files.read(call.sandboxId, path);
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${encodeURIComponent(stat.name)}"`,
  };
  if (/\bgzip\b/.test(req.headers.get('accept-encoding') ?? '')) {
    return new Response(gzipSync(data), { headers: { ...headers, 'Content-Encoding': 'gzip' } });
  }
  return new Response(data, { headers });
}

async function upload(ctx: E2bContext, call: EnvdCall, url: URL, req: Request): Promise<Response> {
  for (const name of req.headers.keys()) {
    if (name.toLowerCase().startsWith('x-metadata-')) {
      throw new MitosError(
        'not_implemented',
        'file metadata (X-Metadata-* headers) is not stored by this server',
        {},
        {
          remediation: 'write the file without metadata',
        },
      );
    }
  }
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_UPLOAD_BYTES)
    throw new MitosError('body_too_large', `uploads are at most ${MAX_UPLOAD_BYTES} bytes`);
  const queryPath = url.searchParams.get('path');
  const type = req.headers.get('content-type') ?? '';
  const files: { path: string; data: Buffer }[] = [];
  if (type.startsWith('multipart/form-data')) {
    const form = await req.formData();
    for (const [field, value] of form.entries()) {
      if (field !== 'file' || typeof value === 'string') continue;
      const target = queryPath ?? value.name;
      files.push({ path: resolvePath(call.account, target), data: Buffer.from(await value.arrayBuffer()) });
    }
    if (queryPath !== null && files.length > 1)
      throw new MitosError('invalid_request', 'a path query names one file; send one part');
  } else {
    if (queryPath === null) throw new MitosError('invalid_request', 'path is required for an octet-stream upload');
    let data = Buffer.from(await req.arrayBuffer());
    if (/\bgzip\b/.test(req.headers.get('content-encoding') ?? '')) {
      try {
        data = gunzipSync(data, { maxOutputLength: MAX_UPLOAD_BYTES });
      } catch {
        throw new MitosError('invalid_request', 'body is not valid gzip, or is over the upload limit uncompressed');
      }
    }
    files.push({ path: resolvePath(call.account, queryPath), data });
  }
  if (files.length === 0) throw new MitosError('invalid_request', 'no file in the upload');
  const written = [];
  for (const f of files) {
    if (f.data.length > MAX_UPLOAD_BYTES)
      throw new MitosError('body_too_large', `uploads are at most ${MAX_UPLOAD_BYTES} bytes`);
    if (f.path === '/') throw new MitosError('invalid_request', 'cannot write to /');
    await ctx.engine.files.write(call.sandboxId, f.path, f.data);
    if (call.account.uid !== 0) await giveTo(ctx.engine, call.sandboxId, f.path, call.account);
    written.push({
      name: f.path.slice(parentOf(f.path).length + (parentOf(f.path) === '/' ? 0 : 1)),
      type: 'file',
      path: f.path,
    });
  }
  return Response.json(written);
}
