/**
 * `mitos mcp`: the MCP server on stdin/stdout, for clients that launch their tools as a
 * process (Claude Code, Cursor, Claude Desktop). It talks to a mitos server through the SDK
 * (MITOS_BASE_URL, MITOS_API_KEY or the credentials file) and terminates the sandboxes it
 * created when the client closes stdin, unless they were created with keep=true.
 * @module
 */

import { type ClientOptions, Sandbox, SandboxServer } from '@mitos/sdk';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer } from './server.js';
import { ToolSession } from './tools/session.js';

export interface StdioOptions extends ClientOptions {
  /** Existing sandboxes the session may use (the first is the default); never terminated by it. */
  sandboxes?: string[];
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

/** Serve until the client disconnects; resolves after the session's sandboxes are gone. */
export async function runStdioServer(options: StdioOptions = {}): Promise<void> {
  const given = await Promise.all((options.sandboxes ?? []).map((id) => Sandbox.connect(id, options)));
  const session = new ToolSession({ server: SandboxServer.fromAuth(options), sandboxes: given });
  const transport = new StdioServerTransport(
    options.stdin as NodeJS.ReadStream | undefined,
    options.stdout as NodeJS.WriteStream | undefined,
  );
  const server = createMcpServer(session);
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  await server.connect(transport);
  const input = options.stdin ?? process.stdin;
  // The stdio transport does not notice end of input; a client closing our stdin means "done".
  input.once('end', () => void server.close());
  // Clients that stop us with a signal (most do, after closing stdin) still get a clean end.
  const stop = () => void server.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await closed;
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  await session.close();
}
