/**
 * OpenAI Agents JS (`@openai/agents`): mitos tools as function tools. Parameters are the JSON
 * Schema of the catalogue's zod schemas in non-strict mode (strict mode would force every
 * optional field to be sent), and the arguments are validated by the zod schema when called.
 *
 * @example
 * import { Agent, run } from '@openai/agents';
 * import { create } from '@mitos/sdk';
 * import { mitosFunctionTools } from '@mitos/integrations/openai-agents';
 * const sandbox = await create('python');
 * const agent = new Agent({ name: 'coder', tools: mitosFunctionTools(sandbox) });
 * console.log((await run(agent, 'What is 2**100? Use run_code.')).finalOutput);
 * @module
 */
import { callTool, outputAsText } from '@mitos/mcp';
import type { Sandbox } from '@mitos/sdk';
import { type FunctionTool, tool } from '@openai/agents';
import { z } from 'zod';
import { type BindOptions, bindTools } from './bind.js';

export function mitosFunctionTools(sandbox: Sandbox, opts: BindOptions = {}): FunctionTool[] {
  const { session, specs } = bindTools(sandbox, opts);
  return specs.map(
    (spec) =>
      tool({
        name: spec.name,
        description: spec.description,
        parameters: {
          ...(z.toJSONSchema(spec.input, { io: 'input' }) as Record<string, unknown>),
          type: 'object',
          additionalProperties: false,
          // biome-ignore lint/suspicious/noExplicitAny: the JSON Schema type of @openai/agents is narrower than zod's output
        } as any,
        strict: false,
        // A failed call is a result the model reads (code and remediation), not a thrown error.
        execute: async (input: unknown) => outputAsText(await callTool(spec, session, input)),
      }) as FunctionTool,
  );
}
