/**
 * MCP over Streamable HTTP, as a fetch-style handler a host server mounts at `/mcp` behind its
 * own API-key check. Each MCP session gets its own tool session, whose SDK client calls the
 * mitos API with the caller's own bearer key, so `/mcp` can never do more than that key can
 * on `/v1`. A session is bound to the key that opened it: the same session id presented with
 * another key is unknown. Sessions end on DELETE, on close, or after an idle period, and
 * their sandboxes are terminated unless created with keep=true.
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { SandboxServer } from '@mitos/sdk';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { createMcpServer } from './server.js';
import { ToolSession } from './tools/session.js';

export const DEFAULT_MCP_IDLE_TIMEOUT_MS = 30 * 60_000;
export const DEFAULT_MAX_MCP_SESSIONS = 256;

export interface McpHttpOptions {
  /** Base URL of the mitos API as this process reaches it (the server's own loopback URL). */
  apiUrl: () => string;
  /** Close a session nobody has used for this long (default 30 minutes). */
  idleTimeoutMs?: number;
  /** Refuse new sessions beyond this many (default 256). */
  maxSessions?: number;
}

export interface McpHttpHandler {
  handle(request: Request): Promise<Response>;
  /** Open sessions (for tests and metrics). */
  readonly sessionCount: number;
  /** End every session and terminate their sandboxes. Idempotent. */
  close(): Promise<void>;
}

interface Entry {
  transport: WebStandardStreamableHTTPServerTransport;
  session: ToolSession;
  keyHash: string;
  idle: NodeJS.Timeout | undefined;
}

export function createMcpHttpHandler(options: McpHttpOptions): McpHttpHandler {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_MCP_IDLE_TIMEOUT_MS;
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_MCP_SESSIONS;
  const sessions = new Map<string, Entry>();
  const ending = new Set<Promise<void>>();

  const end = (id: string) => {
    const entry = sessions.get(id);
    if (!entry) return;
    sessions.delete(id);
    clearTimeout(entry.idle);
    const done = Promise.allSettled([entry.transport.close(), entry.session.close()]).then(() => {
      ending.delete(done);
    });
    ending.add(done);
  };
  const touch = (id: string, entry: Entry) => {
    clearTimeout(entry.idle);
    entry.idle = setTimeout(() => end(id), idleMs);
    entry.idle.unref();
  };

  return {
    get sessionCount() {
      return sessions.size;
    },
    async handle(request) {
      const refused = checkOrigin(request);
      if (refused) return refused;
      const keyHash = fingerprint(request);
      const id = request.headers.get('mcp-session-id');
      if (id !== null) {
        const entry = sessions.get(id);
        // Another key's session is reported exactly like a session that never existed.
        if (!entry || entry.keyHash !== keyHash) {
          return rpcError(404, -32001, 'session not found', 'start a new session with an initialize request');
        }
        touch(id, entry);
        return entry.transport.handleRequest(request);
      }
      if (request.method !== 'POST') {
        return rpcError(400, -32000, 'missing mcp-session-id', 'send an initialize request (POST) first');
      }
      if (sessions.size >= maxSessions) {
        return rpcError(429, -32000, 'too many MCP sessions', 'close an idle session (DELETE /mcp) and retry');
      }
      const session = new ToolSession({
        server: new SandboxServer({ baseUrl: options.apiUrl(), apiKey: bearer(request) }),
      });
      let opened: string | undefined;
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => {
          opened = sid;
          const entry: Entry = { transport, session, keyHash, idle: undefined };
          sessions.set(sid, entry);
          touch(sid, entry);
        },
        onsessionclosed: (sid) => end(sid),
      });
      transport.onclose = () => {
        if (opened !== undefined) end(opened);
      };
      await createMcpServer(session).connect(transport);
      const response = await transport.handleRequest(request);
      if (opened === undefined) {
        // Not an initialize request: nothing to keep.
        await transport.close();
        await session.close();
      }
      return response;
    },
    async close() {
      for (const id of [...sessions.keys()]) end(id);
      await Promise.all([...ending]);
    },
  };
}

function bearer(request: Request): string | undefined {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1]?.trim() || undefined;
}

/** Sessions are bound to a digest of the credential, never the credential itself. */
function fingerprint(request: Request): string {
  return createHash('sha256')
    .update(bearer(request) ?? '')
    .digest('hex');
}

/**
 * A browser page must not drive a local tokenless server through DNS rebinding: a request
 * that carries an Origin must come from the host it is addressed to.
 */
function checkOrigin(request: Request): Response | undefined {
  const origin = request.headers.get('origin');
  if (origin === null) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = '';
  }
  if (originHost !== '' && originHost === request.headers.get('host')) return undefined;
  return rpcError(403, -32000, 'cross-origin request refused', 'call /mcp from an MCP client, not a web page');
}

function rpcError(status: number, code: number, message: string, remediation: string): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message, data: { remediation } } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
