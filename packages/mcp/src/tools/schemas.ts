/**
 * Tool inputs, written once in zod. The descriptions are what a model reads to decide how to
 * call a tool, so they say what a field does, its default and its limits. Every adapter and
 * the MCP server derive their schemas from these.
 * @module
 */
import { ID_PATTERN, MAX_TIMEOUT_SECONDS } from '@mitos/protocol';
import { z } from 'zod';

const sandboxId = z
  .string()
  .regex(ID_PATTERN)
  .optional()
  .describe('Which sandbox to use (an id from create_sandbox, fork or list_sandboxes). Omit to use the default one.');

const timeoutSeconds = (fallback: number) =>
  z
    .number()
    .int()
    .min(1)
    .max(MAX_TIMEOUT_SECONDS)
    .optional()
    .describe(`Stop after this many seconds (default ${fallback}, at most ${MAX_TIMEOUT_SECONDS}).`);

const path = z.string().min(1).max(4096).describe('Absolute path inside the sandbox, e.g. /workspace/main.py.');

export const CreateSandboxInput = z.strictObject({
  template: z
    .string()
    .regex(ID_PATTERN)
    .default('python')
    .describe(
      'Template to start from: "python" (Python 3 with a code interpreter), "node" or "base". See list_templates.',
    ),
  lifetime_seconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_TIMEOUT_SECONDS)
    .optional()
    .describe('Terminate the sandbox this many seconds from now. Default: the server default (often none).'),
  network: z
    .enum(['template'])
    .default('template')
    .describe(
      'Network posture. "template" (the only value) uses the template\'s own posture, which denies all traffic unless the template was created with another.',
    ),
  keep: z
    .boolean()
    .default(false)
    .describe('Keep the sandbox running after this session ends (default false: it is terminated with the session).'),
});

export const ExecInput = z.strictObject({
  command: z.string().min(1).describe('Shell command, run with /bin/sh -c in the sandbox.'),
  sandbox_id: sandboxId,
  timeout_seconds: timeoutSeconds(30),
  cwd: z.string().min(1).optional().describe('Working directory (default /workspace).'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables for this command.'),
});

export const RunCodeInput = z.strictObject({
  code: z.string().min(1).describe('Code cell to run. Variables persist between calls in the same sandbox.'),
  language: z.enum(['python', 'javascript']).default('python').describe('Interpreter (default python).'),
  sandbox_id: sandboxId,
  timeout_seconds: timeoutSeconds(60),
});

export const ReadFileInput = z.strictObject({
  path,
  sandbox_id: sandboxId,
  offset: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('First character to return (default 0), to page through a large file.'),
  length: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(100_000)
    .describe('How many characters to return at most (default 100000).'),
});

export const WriteFileInput = z.strictObject({
  path,
  content: z.string().describe('Text to write; replaces the file. Parent directories are created.'),
  sandbox_id: sandboxId,
});

export const ListFilesInput = z.strictObject({
  path: path.default('/workspace').describe('Directory to list (default /workspace).'),
  sandbox_id: sandboxId,
});

export const ForkInput = z.strictObject({
  sandbox_id: sandboxId,
  count: z
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .describe('How many copies (default 1, at most 16). Each starts from the current files and interpreter state.'),
});

export const TerminateInput = z.strictObject({
  sandbox_id: sandboxId,
});

export const NoInput = z.strictObject({});
