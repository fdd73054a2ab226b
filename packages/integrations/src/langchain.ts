/**
 * LangChain.js (`@langchain/core`): mitos tools as structured tools with the catalogue's zod
 * schemas, for `model.bindTools(...)`, LangGraph's ToolNode or `createAgent`.
 *
 * @example
 * import { create } from '@mitos/sdk';
 * import { mitosStructuredTools } from '@mitos/integrations/langchain';
 * const sandbox = await create('python');
 * const tools = mitosStructuredTools(sandbox);
 * const reply = await tools.find((t) => t.name === 'exec')!.invoke({ command: 'uname -a' });
 * @module
 */
import { type StructuredToolInterface, tool } from '@langchain/core/tools';
import { callTool, outputAsText } from '@mitos/mcp';
import type { Sandbox } from '@mitos/sdk';
import { type BindOptions, bindTools } from './bind.js';

export function mitosStructuredTools(sandbox: Sandbox, opts: BindOptions = {}): StructuredToolInterface[] {
  const { session, specs } = bindTools(sandbox, opts);
  return specs.map(
    (spec) =>
      tool(
        async (input: unknown, config) =>
          outputAsText(await callTool(spec, session, input, { signal: config?.signal })),
        {
          name: spec.name,
          description: spec.description,
          schema: spec.input,
        },
      ) as unknown as StructuredToolInterface,
  );
}
