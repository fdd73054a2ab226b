/**
 * Vercel AI SDK (`ai`): mitos tools for `generateText` / `streamText`, with the zod input
 * schemas of the catalogue. Images a cell produces reach the model as image parts.
 *
 * @example
 * import { generateText, stepCountIs } from 'ai';
 * import { create } from '@mitos/sdk';
 * import { mitosTools } from '@mitos/integrations/ai';
 * const sandbox = await create('python');
 * const { text } = await generateText({ model, tools: mitosTools(sandbox), stopWhen: stepCountIs(5), prompt: 'How many CPUs?' });
 * @module
 */
import { callTool, type ToolOutput } from '@mitos/mcp';
import type { Sandbox } from '@mitos/sdk';
import { type Tool, tool } from 'ai';
import { type BindOptions, bindTools } from './bind.js';

type ModelOutput = {
  type: 'content';
  value: Array<{ type: 'text'; text: string } | { type: 'image-data'; data: string; mediaType: string }>;
};

/** One AI SDK tool per mitos tool, keyed by name (exec, run_code, read_file, write_file, list_files, fork). */
export function mitosTools(sandbox: Sandbox, opts: BindOptions = {}): Record<string, Tool> {
  const { session, specs } = bindTools(sandbox, opts);
  const tools: Record<string, Tool> = {};
  for (const spec of specs) {
    tools[spec.name] = tool({
      description: spec.description,
      inputSchema: spec.input,
      execute: (input: unknown, { abortSignal }: { abortSignal?: AbortSignal }) =>
        callTool(spec, session, input, { signal: abortSignal }),
      toModelOutput: ({ output }: { output: ToolOutput }) => toModelOutput(output),
    }) as Tool;
  }
  return tools;
}

function toModelOutput(output: ToolOutput): ModelOutput {
  return {
    type: 'content',
    value: output.content.map((part) => {
      if (part.type === 'image') return { type: 'image-data' as const, data: part.data, mediaType: part.mimeType };
      if (part.type === 'resource')
        return { type: 'text' as const, text: `${part.resource.uri}\n${part.resource.text}` };
      return part;
    }),
  };
}
