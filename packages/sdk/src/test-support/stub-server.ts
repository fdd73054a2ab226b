/**
 * A real HTTP server on 127.0.0.1:0 for unit tests: it records every request and answers
 * with whatever the test's handler returns. {@link useStub} is the per-file setup around it.
 * Test-only; not exported from the package.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach } from 'node:test';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when empty or not JSON. */
  body: unknown;
}

export interface StubReply {
  status?: number;
  json?: unknown;
  text?: string;
  /** Never answer (to exercise client-side timeouts). */
  hang?: boolean;
  /** Answer 200 application/x-ndjson with one line per value (strings are sent verbatim). */
  ndjson?: unknown[];
  /** Take over the response entirely (streams that pause, cut off, or never end). */
  respond?: (res: ServerResponse) => void | Promise<void>;
}

/** One NDJSON line for a value; strings pass through so tests can send malformed lines. */
export function ndjsonLine(value: unknown): string {
  return `${typeof value === 'string' ? value : JSON.stringify(value)}\n`;
}

export interface Stub {
  baseUrl: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type StubHandler = (req: RecordedRequest) => StubReply | Promise<StubReply>;

export async function startStub(handler: StubHandler): Promise<Stub> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(rec);
      const reply = await handler(rec);
      if (reply.hang) return;
      if (reply.respond) return void (await reply.respond(res));
      if (reply.ndjson) {
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/x-ndjson' });
        res.end(reply.ndjson.map(ndjsonLine).join(''));
        return;
      }
      const text = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
      res.writeHead(reply.status ?? 200, {
        'content-type': reply.json !== undefined ? 'application/json' : 'text/plain',
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A stub for the whole test file whose answers each test can swap. */
export interface RoutedStub {
  /** Valid from the file's before() hook on. */
  readonly baseUrl: string;
  /** This test's requests (emptied before each test). */
  readonly requests: RecordedRequest[];
  /** Answers every request; put back to the file's default before each test. */
  route: StubHandler;
}

const noRoute: StubHandler = (req) => ({ status: 500, json: envelope('no_route', `${req.method} ${req.url}`) });

/**
 * The per-file setup of a stub test: start the stub before the file's tests, close it after
 * them, and before each test forget the requests and restore `defaultRoute` (without one, any
 * request is a 500 until the test sets `route`). Call once at the top of a test file.
 */
export function useStub(defaultRoute: StubHandler = noRoute): RoutedStub {
  let server: Stub | undefined;
  const started = (): Stub => {
    if (!server) throw new Error('the stub starts in the before() hook');
    return server;
  };
  const stub: RoutedStub = {
    get baseUrl() {
      return started().baseUrl;
    },
    get requests() {
      return started().requests;
    },
    route: defaultRoute,
  };
  before(async () => {
    server = await startStub((req) => stub.route(req));
  });
  after(() => server?.close());
  beforeEach(() => {
    started().requests.length = 0;
    stub.route = defaultRoute;
  });
  return stub;
}

/** A seed-style error envelope. */
export function envelope(code: string, cause = '', context?: Record<string, unknown>): unknown {
  return { error: { code, message: `catalogue text for ${code}`, cause, remediation: `remedy for ${code}`, context } };
}
