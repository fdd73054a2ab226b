/** read_file, write_file, list_files. @module */
import type { z } from 'zod';
import type { ToolCallContext, ToolOutput } from './output.js';
import { textOutput } from './output.js';
import type { ListFilesInput, ReadFileInput, WriteFileInput } from './schemas.js';
import type { ToolSession } from './session.js';

export async function readFileTool(
  session: ToolSession,
  input: z.output<typeof ReadFileInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const sandbox = session.resolve(input.sandbox_id);
  const whole = await sandbox.files.read(input.path, { signal: ctx.signal });
  const end = Math.min(whole.length, input.offset + input.length);
  const text = whole.slice(input.offset, end);
  const more = end < whole.length;
  const note = more
    ? `\n[characters ${input.offset}-${end} of ${whole.length}; call again with offset ${end} for more]`
    : '';
  return textOutput(`${text}${note}`, {
    sandbox_id: sandbox.id,
    path: input.path,
    content: text,
    offset: input.offset,
    total_length: whole.length,
    truncated: more,
  });
}

export async function writeFileTool(
  session: ToolSession,
  input: z.output<typeof WriteFileInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const sandbox = session.resolve(input.sandbox_id);
  await sandbox.files.write(input.path, input.content, { signal: ctx.signal });
  const bytes = Buffer.byteLength(input.content);
  return textOutput(`wrote ${bytes} bytes to ${input.path} in ${sandbox.id}`, {
    sandbox_id: sandbox.id,
    path: input.path,
    bytes,
  });
}

export async function listFilesTool(
  session: ToolSession,
  input: z.output<typeof ListFilesInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const sandbox = session.resolve(input.sandbox_id);
  const entries = await sandbox.files.list(input.path, { signal: ctx.signal });
  const lines = entries.map((e) => `${e.isDir ? 'dir ' : 'file'} ${String(e.size).padStart(10)}  ${e.name}`);
  return textOutput(lines.length > 0 ? lines.join('\n') : `${input.path} is empty`, {
    sandbox_id: sandbox.id,
    path: input.path,
    entries: entries.map((e) => ({ name: e.name, is_dir: e.isDir, size: e.size })),
  });
}
