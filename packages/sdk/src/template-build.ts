/**
 * Builds a template spec on a server: hashes the local files its copy steps name, uploads only
 * the blobs the server lacks (POST /v1/template-context/missing, then one POST per blob),
 * starts the build and follows its NDJSON progress until the final digest or the error.
 * @module
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import type { BuildContext, TemplateBuildEvent, TemplateSpec } from '@mitos/protocol';
import { AgentRunError, errorForCode } from './errors.js';
import type { HttpClient } from './http.js';
import { ndjsonObjects } from './ndjson.js';
import type { TemplateBuildOptions } from './template.js';

/** A build may run for long; only the silence between two progress lines is bounded. */
const BUILD_IDLE_MS = 30 * 60_000;
/** Blobs up to this size go in one request; larger ones in parts of it (under the server's 32 MiB body limit). */
export const CONTEXT_PART_BYTES = 16 * 1024 * 1024;

/** Read `path` part by part (one part in memory at a time). */
function* fileParts(path: string, size = CONTEXT_PART_BYTES): Generator<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(size);
    for (;;) {
      const n = readSync(fd, buffer, 0, size, null);
      if (n === 0) return;
      yield buffer.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function sha256Of(path: string): string {
  const hash = createHash('sha256');
  for (const part of fileParts(path)) hash.update(part);
  return hash.digest('hex');
}

interface LocalContext {
  context: BuildContext;
  blobs: Map<string, string>;
}

function contextError(cause: string): AgentRunError {
  return new AgentRunError({
    code: 'invalid_request',
    message: 'a copy source cannot be sent as build context',
    cause,
    remediation: 'copy regular files and directories that are inside the build context directory',
  });
}

/** Every file under the copy sources, by context-relative path (symlinks are refused). */
export function collectContext(spec: TemplateSpec, contextDir: string): LocalContext {
  const root = resolve(contextDir);
  const files: BuildContext['files'] = {};
  const blobs = new Map<string, string>();
  const add = (abs: string): void => {
    const rel = relative(root, abs).split(sep).join(posix.sep);
    if (rel.startsWith('..') || rel === '')
      throw contextError(`copy source ${abs} is outside the build context ${root}`);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) throw contextError(`copy source ${rel} is a symbolic link; copy its target instead`);
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) add(join(abs, name));
      return;
    }
    if (!st.isFile()) return;
    const sha256 = sha256Of(abs);
    files[rel] = { sha256, mode: st.mode & 0o7777 };
    blobs.set(sha256, abs);
  };
  for (const step of spec.buildSteps ?? []) {
    if (step.type !== 'copy' || step.from !== undefined) continue;
    const abs = resolve(root, step.source);
    if (abs !== root && !abs.startsWith(root + sep)) {
      throw contextError(`copy source ${JSON.stringify(step.source)} is outside the build context ${root}`);
    }
    add(abs);
  }
  return { context: { files }, blobs };
}

/** One request for a small blob; parts (`?offset=&total=`) for one over a request body's limit. */
async function uploadBlob(http: HttpClient, digest: string, path: string, signal: AbortSignal | undefined) {
  const total = lstatSync(path).size;
  const timeoutMs = http.timeoutOr(10 * 60_000);
  if (total <= CONTEXT_PART_BYTES) {
    await http.request('POST', `/v1/template-context/${digest}`, {
      body: new Uint8Array(readFileSync(path)),
      timeoutMs,
      signal,
    });
    return;
  }
  let offset = 0;
  for (const part of fileParts(path)) {
    await http.request('POST', `/v1/template-context/${digest}?offset=${offset}&total=${total}`, {
      body: part,
      timeoutMs,
      signal,
    });
    offset += part.length;
  }
}

export async function buildOnServer(
  http: HttpClient,
  id: string,
  spec: TemplateSpec,
  options: TemplateBuildOptions & { contextDir: string },
): Promise<{ id: string; digest: string }> {
  const signal = options.signal as AbortSignal | undefined;
  const { context, blobs } = collectContext(spec, options.contextDir);
  if (blobs.size > 0) {
    const { missing } = await http.request<{ missing: string[] }>('POST', '/v1/template-context/missing', {
      body: { digests: [...blobs.keys()] },
      timeoutMs: http.timeoutOr(60_000),
      signal,
    });
    for (const digest of missing) {
      await uploadBlob(http, digest, blobs.get(digest) as string, signal);
    }
  }
  await http.request('POST', '/v1/templates', {
    body: {
      id,
      spec,
      ...(blobs.size > 0 ? { context } : {}),
      ...(options.noCache ? { no_cache: true } : {}),
      ...(options.network ? { network: options.network } : {}),
      ...(options.buildNetwork ? { build_network: options.buildNetwork } : {}),
    },
    timeoutMs: http.timeoutOr(60_000),
    signal,
  });
  const stream = await http.stream('GET', `/v1/templates/${encodeURIComponent(id)}/build`, {
    idleTimeoutMs: BUILD_IDLE_MS,
    signal,
  });
  for await (const obj of ndjsonObjects(stream, 'a template build stream')) {
    const event = obj as TemplateBuildEvent;
    options.onEvent?.(event);
    if (event.type === 'log') options.onLogs?.(event.line);
    if (event.type === 'done') return { id: event.id, digest: event.digest };
    if (event.type === 'error') throw errorForCode({ ...event.error });
  }
  throw errorForCode({
    code: 'internal',
    message: 'the template build stream ended without a result',
    cause: `GET /v1/templates/${id}/build closed early`,
    remediation: 'follow the build again with GET /v1/templates/{id}/build',
  });
}
