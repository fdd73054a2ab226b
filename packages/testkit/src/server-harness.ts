/**
 * Test helpers: an app over the fake engine with an in-memory database, a JSON request
 * shortcut, a logger that keeps its lines for assertions, a real listening server for what
 * needs sockets (terminals, proxies, disconnects), and a reader for NDJSON bodies.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { type AppDeps, createApp, type RunningServer, type ServerOptions, startServer } from '@mitos/server';
import Database from 'better-sqlite3';
import { type Logger, pino } from 'pino';
import { FakeEngine } from './fake-engine.js';

export interface CapturedLogger {
  logger: Logger;
  lines: string[];
}

export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  engine: FakeEngine;
  db: Database.Database;
  lines: string[];
  /** POSTs (or sends `method`) a JSON body and returns status, parsed body and headers. */
  call(path: string, body?: unknown, init?: { method?: string; headers?: Record<string, string> }): Promise<Reply>;
}

export interface Reply {
  status: number;
  // Tests inspect arbitrary wire shapes; `any` keeps the assertions readable.
  // biome-ignore lint/suspicious/noExplicitAny: test-only convenience
  body: any;
  text: string;
  headers: Headers;
}

export function makeTestApp(overrides: Partial<AppDeps> = {}): TestApp {
  const engine = (overrides.engine as FakeEngine | undefined) ?? new FakeEngine();
  const db = overrides.db ?? new Database(':memory:');
  const { logger, lines } = captureLogger();
  const app = createApp({ logger, version: 'test', ...overrides, engine, db });
  return {
    app,
    engine,
    db,
    lines,
    async call(path, body, init = {}) {
      const method = init.method ?? (body === undefined ? 'GET' : 'POST');
      const headers: Record<string, string> = { ...init.headers };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['Content-Type'] ??= 'application/json';
      }
      const res = await app.request(`http://localhost${path}`, { method, headers, body: payload });
      return toReply(res);
    },
  };
}

export async function toReply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, headers: res.headers };
}

/** A template plus a running sandbox `sb-1`, the usual starting point. */
export async function withSandbox(t: TestApp, id = 'sb-1', template = 'python'): Promise<void> {
  await t.engine.ensureTemplate({ id: template });
  await t.engine.create({ id, templateId: template });
  t.engine.createCalls.length = 0;
}

/** Yields to the event loop until `condition` holds, so tests never sleep on a timer. */
export async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(condition(), 'condition never became true');
}

export interface LiveServer {
  server: RunningServer;
  engine: FakeEngine;
  url: string;
  close(): Promise<void>;
}

/** A listening server on 127.0.0.1:<ephemeral> over a fake engine with template `python` and sandbox `sb-1`. */
export async function startLiveServer(overrides: Partial<ServerOptions> = {}): Promise<LiveServer> {
  const engine = (overrides.engine as FakeEngine | undefined) ?? new FakeEngine();
  await engine.ensureTemplate({ id: 'python' });
  if (!engine.get('sb-1')) await engine.create({ id: 'sb-1', templateId: 'python' });
  engine.createCalls.length = 0;
  const db = new Database(':memory:');
  const server = await startServer({
    logger: captureLogger().logger,
    version: 'test',
    port: 0,
    shutdownGraceMs: 200,
    ...overrides,
    engine,
    db,
  });
  return {
    server,
    engine,
    url: server.url,
    async close() {
      await server.close();
      db.close();
    },
  };
}

/** Parses a whole NDJSON body; every non-blank line must be JSON. */
// biome-ignore lint/suspicious/noExplicitAny: test-only convenience
export function ndjson(text: string): any[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

/** Reads an NDJSON body line by line as it arrives. */
export function lineReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    /** The next parsed line, or undefined at the end of the body. */
    // biome-ignore lint/suspicious/noExplicitAny: test-only convenience
    async next(): Promise<any> {
      for (;;) {
        const newline = buffered.indexOf('\n');
        if (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim() !== '') return JSON.parse(line);
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

/** A promise with its resolver outside, to hold a scripted engine call until the test says so. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Resolves when `signal` aborts (at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
