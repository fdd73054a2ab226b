/**
 * @mitos/mcp: mitos sandboxes as MCP tools, over stdio (`mitos mcp`) and Streamable HTTP
 * (`/mcp` on `mitos serve`), and the framework-neutral tool catalogue the adapters in
 * `@mitos/integrations` share.
 *
 * @example
 * // stdio, as `mitos mcp` runs it
 * import { runStdioServer } from '@mitos/mcp';
 * await runStdioServer({ baseUrl: 'http://127.0.0.1:8080' });
 * @module
 */
export { createMcpHttpHandler, DEFAULT_MCP_IDLE_TIMEOUT_MS, type McpHttpHandler, type McpHttpOptions } from './http.js';
export { createMcpServer, listedTools, toCallToolResult } from './server.js';
export { runStdioServer, type StdioOptions } from './stdio.js';
export {
  callTool,
  SANDBOX_TOOL_NAMES,
  type SandboxToolName,
  TOOLS,
  type ToolAnnotations,
  type ToolSpec,
  toolsNamed,
} from './tools/catalogue.js';
export { errorInfo, type ToolErrorInfo, toolError } from './tools/errors.js';
export { outputAsText, type ToolCallContext, type ToolContent, type ToolOutput } from './tools/output.js';
export * as schemas from './tools/schemas.js';
export { ToolSession, type ToolSessionOptions } from './tools/session.js';
