/**
 * run_code: a cell in the sandbox's stateful interpreter. Text results and logs become text,
 * PNG and JPEG become image content (the model sees the chart), HTML and SVG become embedded
 * resources with a `mitos://` URI naming the sandbox and the output.
 * @module
 */
import { type Execution, MIME } from '@mitos/sdk';
import type { z } from 'zod';
import type { ToolCallContext, ToolContent, ToolOutput } from './output.js';
import type { RunCodeInput } from './schemas.js';
import type { ToolSession } from './session.js';
import { clip } from './truncate.js';

const IMAGE_TYPES = [MIME.png, MIME.jpeg] as const;
const RESOURCE_TYPES = [
  [MIME.html, 'html'],
  [MIME.svg, 'svg'],
] as const;
let cellSerial = 0;

export async function runCodeTool(
  session: ToolSession,
  input: z.output<typeof RunCodeInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const sandbox = session.resolve(input.sandbox_id);
  const execution = await sandbox.runCode(input.code, {
    language: input.language,
    timeoutSeconds: input.timeout_seconds,
    signal: ctx.signal,
  });
  const cell = ++cellSerial;
  const content: ToolContent[] = [{ type: 'text', text: describe(execution, sandbox.id) }];
  execution.results.forEach((result, i) => {
    for (const mimeType of IMAGE_TYPES) {
      const data = result.data[mimeType];
      if (data) content.push({ type: 'image', data, mimeType });
    }
    for (const [mimeType, ext] of RESOURCE_TYPES) {
      const text = result.data[mimeType];
      if (text) {
        const uri = `mitos://sandboxes/${sandbox.id}/outputs/cell-${cell}-${i}.${ext}`;
        content.push({ type: 'resource', resource: { uri, mimeType, text } });
      }
    }
  });
  return {
    content,
    structured: {
      sandbox_id: sandbox.id,
      text: execution.text ?? null,
      stdout: clip(execution.logs.stdout.join('')).text,
      stderr: clip(execution.logs.stderr.join('')).text,
      error: execution.error ?? null,
      formats: execution.results.flatMap((r) => r.formats()),
    },
    // A cell that raised is the agent's bug to fix, reported as a failed tool call.
    isError: execution.error !== undefined,
  };
}

function describe(execution: Execution, sandboxId: string): string {
  const lines: string[] = [];
  const stdout = execution.logs.stdout.join('');
  const stderr = execution.logs.stderr.join('');
  if (stdout) lines.push(`stdout:\n${clip(stdout).text}`);
  if (stderr) lines.push(`stderr:\n${clip(stderr).text}`);
  if (execution.text !== undefined) lines.push(`result: ${clip(execution.text).text}`);
  if (execution.error) {
    const e = execution.error;
    lines.push(`error ${e.name}: ${e.value}`, clip(e.traceback.join('\n')).text);
  }
  const rich = execution.results.flatMap((r) => r.formats()).filter((f) => f !== MIME.text);
  if (rich.length > 0) lines.push(`outputs: ${rich.join(', ')}`);
  if (lines.length === 0) lines.push(`the cell ran in ${sandboxId} and produced no output`);
  return lines.join('\n');
}
