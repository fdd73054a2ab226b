/** `mitos mcp`: the MCP server on stdio, for clients that launch their tools as a process. */
import type { Command } from 'commander';
import { action, collect } from '../context.js';

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description(
      'serve mitos as MCP tools on stdin/stdout (for Claude Code, Cursor, ...); sandboxes it creates end with the session unless created with keep=true',
    )
    .option(
      '--sandbox <id>',
      'let the session use this existing sandbox (repeatable; the first is the default; never terminated by the session)',
      collect,
    )
    .action(
      action(async (ctx) => {
        // Loaded on demand, so other commands never pay for the MCP SDK.
        const { runStdioServer } = await import('@mitos/mcp');
        await runStdioServer({ ...ctx.client, sandboxes: ctx.cmd.opts<{ sandbox?: string[] }>().sandbox });
      }),
    );
}
