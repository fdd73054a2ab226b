/**
 * The MCP face of the tool catalogue: one low-level MCP `Server` per agent session. We use the
 * low-level server (not `McpServer.registerTool`) so arguments are validated by our own zod
 * schemas and a bad argument comes back as a tool error with our code and remediation, like
 * every other failure, rather than as a protocol error the model never sees.
 * @module
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, type CallToolResult, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { callTool, TOOLS } from './tools/catalogue.js';
import { toolError } from './tools/errors.js';
import type { ToolOutput } from './tools/output.js';
import type { ToolSession } from './tools/session.js';
import { packageVersion } from './version.js';

const INSTRUCTIONS = [
  'mitos gives you isolated Linux sandboxes.',
  'Call create_sandbox first; it becomes the default, so later calls may omit sandbox_id.',
  'Use exec for shell commands, run_code for a stateful Python interpreter (charts come back as images),',
  'read_file/write_file/list_files for files, and fork to copy a sandbox and try alternatives in parallel.',
  'Sandboxes you create end with this session unless created with keep=true.',
].join(' ');

/** The tools as MCP lists them: JSON Schema inputs derived from the zod schemas. */
export function listedTools() {
  return TOOLS.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: z.toJSONSchema(t.input, { io: 'input' }) as { type: 'object'; [k: string]: unknown },
    annotations: { title: t.title, ...t.annotations },
  }));
}

export function createMcpServer(session: ToolSession): Server {
  const server = new Server(
    { name: 'mitos', title: 'mitos sandboxes', version: packageVersion() },
    { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
  );
  const tools = listedTools();
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = TOOLS.find((t) => t.name === request.params.name);
    if (!tool) {
      return toCallToolResult(
        toolError({
          code: 'not_found',
          message: 'no such tool',
          cause: `there is no tool named ${JSON.stringify(request.params.name.slice(0, 64))}`,
          remediation: `use one of: ${TOOLS.map((t) => t.name).join(', ')}`,
          context: {},
        }),
      );
    }
    const progressToken = request.params._meta?.progressToken;
    const onProgress =
      progressToken === undefined
        ? undefined
        : (p: { progress: number; message: string }) => {
            // Progress is advisory: a client that went away must not fail the command.
            extra
              .sendNotification({ method: 'notifications/progress', params: { progressToken, ...p } })
              .catch(() => {});
          };
    const output = await callTool(tool, session, request.params.arguments, { signal: extra.signal, onProgress });
    return toCallToolResult(output);
  });
  return server;
}

export function toCallToolResult(output: ToolOutput): CallToolResult {
  return {
    content: output.content,
    structuredContent: output.structured,
    ...(output.isError ? { isError: true } : {}),
  };
}
