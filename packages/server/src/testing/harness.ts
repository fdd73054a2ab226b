/**
 * Test helpers: an app over the fake engine with an in-memory database, a JSON request
 * shortcut, and a logger that keeps its lines for assertions.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { type Logger, pino } from 'pino';
import { type AppDeps, createApp } from '../app.js';
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
