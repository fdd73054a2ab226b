/**
 * A tiny in-memory stand-in for a mitos server (seed wire v1 shapes) on 127.0.0.1:0, a
 * helper that runs the built CLI against it, and {@link useFakeServer}, the per-file setup
 * that ties the two together. Test-only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, beforeEach } from 'node:test';
import { acceptWebSocket, type WsPeer } from './ws-peer.js';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface ExecReply {
  status?: number;
  json?: unknown;
  /** Answer 200 application/x-ndjson, one line per value. */
  ndjson?: unknown[];
  /** Never answer. */
  hang?: boolean;
}

export interface FakeServer {
  baseUrl: string;
  seen: Seen[];
  sandboxes: Map<string, string>;
  files: Map<string, string>;
  /** Decide the answer to POST /v1/exec (and /v1/exec/stream, as lines); default echoes exit 0. */
  onExec: (body: Record<string, unknown>) => ExecReply;
  /** Answer every request with this instead (e.g. a 401 that echoes a key). */
  override?: (req: Seen) => ExecReply | undefined;
  /** A terminal opened on GET /v1/pty of a known sandbox (subprotocol mitos.pty.v1 selected). */
  onPty: (peer: WsPeer, req: Seen) => void;
  /** Forget requests, sandboxes and files, and restore the default handlers. */
  reset(): void;
  /** Start answering on 127.0.0.1:<ephemeral>; sets `baseUrl`. */
  listen(): Promise<void>;
  close(): Promise<void>;
}

const notFound = (cause: string) => ({
  status: 404,
  json: {
    error: { code: 'not_found', message: 'the requested resource does not exist', cause, remediation: 'check the id' },
  },
});

const defaultExec = (): ExecReply => ({ json: { exit_code: 0, stdout: '', stderr: '', exec_time_ms: 1 } });
const defaultPty = (peer: WsPeer): void => peer.close(1011);

/** An /v1/exec answer as the /v1/exec/stream NDJSON lines that carry the same result. */
function asStream(reply: ExecReply): ExecReply {
  const r = reply.json as { exit_code?: unknown; stdout?: string; stderr?: string } | undefined;
  if (reply.hang || reply.ndjson || (reply.status ?? 200) !== 200 || typeof r?.exit_code !== 'number') return reply;
  const chunk = (stream: string, text: string | undefined) =>
    text ? [{ stream, data: Buffer.from(text).toString('base64') }] : [];
  return {
    ndjson: [...chunk('stdout', r.stdout), ...chunk('stderr', r.stderr), { exit_code: r.exit_code, exec_time_ms: 1 }],
  };
}

/** The fake, not yet listening: call listen() before using `baseUrl`. */
export function createFakeServer(): FakeServer {
  const fake: FakeServer = {
    baseUrl: '',
    seen: [],
    sandboxes: new Map(),
    files: new Map(),
    onExec: defaultExec,
    onPty: defaultPty,
    reset() {
      fake.seen.length = 0;
      fake.sandboxes.clear();
      fake.files.clear();
      fake.onExec = defaultExec;
      fake.onPty = defaultPty;
      fake.override = undefined;
    },
    listen: async () => {},
    close: async () => {},
  };

  const answer = (req: Seen): ExecReply => {
    const over = fake.override?.(req);
    if (over) return over;
    const b = req.body;
    const route = `${req.method} ${req.url}`;
    if (route === 'GET /v1/health') return { json: { status: 'ok', version: '0.1.0' } };
    if (route === 'POST /v1/templates')
      return { json: { id: b.id, ready: true, created_at: 'now', creation_time_ms: 12 } };
    if (route === 'GET /v1/templates')
      return { json: [{ id: 'python', ready: true, created_at: 'now', creation_time_ms: 1 }] };
    if (route === 'POST /v1/fork') {
      fake.sandboxes.set(String(b.id), String(b.template));
      return {
        json: { id: b.id, template_id: b.template, endpoint: 'http://x', fork_time_ms: 1.2, created_at: 'now' },
      };
    }
    if (route === 'GET /v1/sandboxes') {
      return {
        json: [...fake.sandboxes].map(([id, t]) => ({ id, template_id: t, endpoint: 'http://x', fork_time_ms: 1 })),
      };
    }
    if (req.method === 'DELETE' && req.url.startsWith('/v1/sandboxes/')) {
      const [path = '', query] = req.url.split('?');
      const id = decodeURIComponent(path.slice('/v1/sandboxes/'.length));
      if (!fake.sandboxes.delete(id)) return notFound(`sandbox "${id}" not found`);
      return query === 'wait=false'
        ? { status: 202, json: { status: 'terminating', id } }
        : { json: { status: 'terminated', id } };
    }
    if (!fake.sandboxes.has(String(b.sandbox))) return notFound(`sandbox ${String(b.sandbox)} not found`);
    if (route === 'POST /v1/exec') return fake.onExec(b);
    if (route === 'POST /v1/exec/stream') return asStream(fake.onExec(b));
    if (route === 'POST /v1/files/write') {
      fake.files.set(String(b.path), String(b.content));
      return { json: { status: 'ok' } };
    }
    if (route === 'POST /v1/files/read') return { json: { content: fake.files.get(String(b.path)) ?? '', size: 0 } };
    if (route === 'POST /v1/files/list') {
      return { json: { entries: [{ name: 'a.txt', is_dir: false, size: 3, mode: 0o644, modified_at: 1750000000 }] } };
    }
    return notFound(`no route ${route}`);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const seen: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: raw ? JSON.parse(raw) : {},
      };
      fake.seen.push(seen);
      const reply = answer(seen);
      if (reply.hang) return;
      if (reply.ndjson) {
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/x-ndjson' });
        res.end(reply.ndjson.map((l) => `${JSON.stringify(l)}\n`).join(''));
        return;
      }
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.json));
    });
  });
  // Upgraded sockets leave the HTTP server's bookkeeping, so close() has to end them itself.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket: Duplex) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: {} };
    fake.seen.push(seen);
    const sandbox = url.searchParams.get('sandbox') ?? '';
    if (url.pathname !== '/v1/pty' || !fake.sandboxes.has(sandbox)) {
      const body = JSON.stringify(notFound(`sandbox ${sandbox} not found`).json);
      socket.end(
        `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    fake.onPty(acceptWebSocket(req, socket, 'mitos.pty.v1'), seen);
  });
  fake.listen = async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Tests run from dist-test/; the command they drive is the built one in dist/.
export const MAIN = new URL('../main.cjs', import.meta.url).pathname.replace('/dist-test/', '/dist/');

/**
 * Run `node dist/main.cjs ...args` asynchronously (the fake server lives in this process,
 * so a synchronous spawn would deadlock). The environment starts clean of MITOS_*.
 */
export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  onSpawn?: (child: ChildProcess) => void;
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MITOS_')) delete env[k];
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
    opts.onSpawn?.(child);
  });
}

export interface FakeServerSetup {
  /** Prefix of this file's temp dir under the OS temp dir, e.g. `mitos-cli-fork-`. */
  prefix: string;
  /** Sandboxes (id to template) the fake knows at the start of every test. */
  sandboxes?: Record<string, string>;
  /** Added to the environment of every run (after MITOS_BASE_URL and MITOS_CONFIG_DIR). */
  env?: Record<string, string>;
  /** A fresh config dir under `root` for every test, instead of `root` for the whole file. */
  configDirPerTest?: boolean;
}

export interface FakeServerHarness {
  /** Listening from the file's before() hook on; reset before every test. */
  fake: FakeServer;
  /** This file's temp dir, removed after its tests. */
  root: string;
  /** The MITOS_CONFIG_DIR of the current test. */
  configDir(): string;
  /** The CLI against the fake with the file's environment; `opts.env` adds or overrides. */
  cli(args: string[], opts?: RunOptions): Promise<CliResult>;
}

/**
 * The per-file setup of a CLI test: a fake server for the whole file, reset (and seeded with
 * `sandboxes`) before every test, and a runner pointed at it. Call once at the top of a test
 * file; hooks the file adds itself run after these.
 */
export function useFakeServer(setup: FakeServerSetup): FakeServerHarness {
  const fake = createFakeServer();
  const root = mkdtempSync(join(tmpdir(), setup.prefix));
  let configDir = root;
  before(() => fake.listen());
  after(async () => {
    await fake.close();
    rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    fake.reset();
    for (const [id, template] of Object.entries(setup.sandboxes ?? {})) fake.sandboxes.set(id, template);
    if (setup.configDirPerTest) configDir = mkdtempSync(join(root, 'cfg-'));
  });
  return {
    fake,
    root,
    configDir: () => configDir,
    cli: (args, opts = {}) =>
      runCli(args, {
        ...opts,
        // The code cache goes to this file's dir too, not the user's ~/.cache.
        env: {
          MITOS_BASE_URL: fake.baseUrl,
          MITOS_CONFIG_DIR: configDir,
          XDG_CACHE_HOME: root,
          ...setup.env,
          ...opts.env,
        },
      }),
  };
}
