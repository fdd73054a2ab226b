/**
 * Claude Agent SDK (`@anthropic-ai/claude-agent-sdk`): the mitos tools as an in-process MCP
 * server, for `query({ options: { mcpServers: { mitos: mitosMcpServer(sandbox) } } })`. Tools
 * then appear to Claude as `mcp__mitos__exec`, `mcp__mitos__run_code`, ... with the same
 * descriptions, annotations and results (images included) as the stand-alone MCP server.
 *
 * @example
 * import { query } from '@anthropic-ai/claude-agent-sdk';
 * import { create } from '@mitos/sdk';
 * import { mitosMcpServer } from '@mitos/integrations/claude-agent';
 * const sandbox = await create('python');
 * for await (const m of query({ prompt: 'Plot sin(x)', options: { mcpServers: { mitos: mitosMcpServer(sandbox) } } })) console.log(m);
 * @module
 */
import { createSdkMcpServer, type McpSdkServerConfigWithInstance, tool } from '@anthropic-ai/claude-agent-sdk';
import { callTool, toCallToolResult } from '@mitos/mcp';
import type { Sandbox } from '@mitos/sdk';
import { type BindOptions, bindTools } from './bind.js';

export function mitosMcpServer(
  sandbox: Sandbox,
  opts: BindOptions & { name?: string } = {},
): McpSdkServerConfigWithInstance {
  const { session, specs } = bindTools(sandbox, opts);
  return createSdkMcpServer({
    name: opts.name ?? 'mitos',
    tools: specs.map((spec) =>
      tool(
        spec.name,
        spec.description,
        spec.input.shape,
        async (args) => toCallToolResult(await callTool(spec, session, args)),
        { annotations: { title: spec.title, ...spec.annotations } },
      ),
    ),
  });
}
