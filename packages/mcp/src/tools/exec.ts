/**
 * exec: one shell command. Output beyond the inline limit is written in full to a file in
 * the sandbox and the result says which, so the agent can read_file it. With a progress
 * listener the command streams, and each chunk reports how much output has arrived.
 * @module
 */
import type { ExecResult, Sandbox } from '@mitos/sdk';
import type { z } from 'zod';
import type { ToolCallContext, ToolOutput } from './output.js';
import type { ExecInput } from './schemas.js';
import type { ToolSession } from './session.js';
import { clip } from './truncate.js';

const OUTPUT_DIR = '/tmp/mitos-output';
let outputSerial = 0;

export async function execTool(
  session: ToolSession,
  input: z.output<typeof ExecInput>,
  ctx: ToolCallContext,
): Promise<ToolOutput> {
  const sandbox = session.resolve(input.sandbox_id);
  const result = await run(sandbox, input, ctx);
  const stdout = clip(result.stdout);
  const stderr = clip(result.stderr);
  const saved: Record<string, string> = {};
  if (stdout.omitted > 0 || stderr.omitted > 0) {
    const stem = `${OUTPUT_DIR}/exec-${Date.now()}-${++outputSerial}`;
    if (stdout.omitted > 0) saved.stdout = await save(sandbox, `${stem}.stdout`, result.stdout, ctx);
    if (stderr.omitted > 0) saved.stderr = await save(sandbox, `${stem}.stderr`, result.stderr, ctx);
  }
  const lines = [`exit code ${result.exitCode} (${Math.round(result.execTimeMs)} ms) in ${sandbox.id}`];
  if (stdout.text) lines.push(`stdout:\n${stdout.text}`);
  if (stderr.text) lines.push(`stderr:\n${stderr.text}`);
  for (const [stream, file] of Object.entries(saved)) {
    lines.push(`${stream} was truncated; the full ${stream} is in ${file} (read it with read_file, offset/length).`);
  }
  return {
    content: [{ type: 'text', text: lines.join('\n') }],
    structured: {
      sandbox_id: sandbox.id,
      exit_code: result.exitCode,
      stdout: stdout.text,
      stderr: stderr.text,
      exec_time_ms: result.execTimeMs,
      ...(Object.keys(saved).length > 0 ? { full_output_files: saved } : {}),
    },
  };
}

async function run(sandbox: Sandbox, input: z.output<typeof ExecInput>, ctx: ToolCallContext): Promise<ExecResult> {
  const base = {
    timeoutSeconds: input.timeout_seconds,
    cwd: input.cwd,
    env: input.env,
    signal: ctx.signal,
  };
  const onProgress = ctx.onProgress;
  if (!onProgress) return sandbox.exec(input.command, base);
  let received = 0;
  const decoder = new TextDecoder();
  const report = (chunk: Uint8Array) => {
    received += chunk.byteLength;
    const last = decoder.decode(chunk).trimEnd().split('\n').pop() ?? '';
    onProgress({ progress: received, message: last.slice(0, 200) });
  };
  return sandbox.exec(input.command, { ...base, onStdout: report, onStderr: report });
}

async function save(sandbox: Sandbox, path: string, text: string, ctx: ToolCallContext): Promise<string> {
  await sandbox.files.write(path, text, { signal: ctx.signal });
  return path;
}
