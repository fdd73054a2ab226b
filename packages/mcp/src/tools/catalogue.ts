/**
 * Every mitos tool in one table: name, description, input schema, MCP annotations and the
 * function that runs it. The MCP server serves the whole table; framework adapters take the
 * per-sandbox subset ({@link SANDBOX_TOOL_NAMES}).
 * @module
 */
import type { z } from 'zod';
import { errorInfo, invalidArguments, toolError } from './errors.js';
import { execTool } from './exec.js';
import { listFilesTool, readFileTool, writeFileTool } from './files.js';
import { createSandboxTool, forkTool, listSandboxesTool, listTemplatesTool, terminateTool } from './lifecycle.js';
import type { ToolCallContext, ToolOutput } from './output.js';
import { runCodeTool } from './run-code.js';
import {
  CreateSandboxInput,
  ExecInput,
  ForkInput,
  ListFilesInput,
  NoInput,
  ReadFileInput,
  RunCodeInput,
  TerminateInput,
  WriteFileInput,
} from './schemas.js';
import type { ToolSession } from './session.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  /** Sandboxes are closed worlds: no tool reaches outside unless the template's network allows. */
  openWorldHint: boolean;
}

export interface ToolSpec<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: S;
  annotations: ToolAnnotations;
  run(session: ToolSession, input: z.output<S>, ctx: ToolCallContext): Promise<ToolOutput>;
}

function spec<S extends z.ZodObject>(s: ToolSpec<S>): ToolSpec {
  return s as unknown as ToolSpec;
}

const hints = (readOnly: boolean, destructive: boolean, idempotent: boolean): ToolAnnotations => ({
  readOnlyHint: readOnly,
  destructiveHint: destructive,
  idempotentHint: idempotent,
  openWorldHint: false,
});

export const TOOLS: readonly ToolSpec[] = [
  spec({
    name: 'create_sandbox',
    title: 'Create a sandbox',
    description:
      'Start a new isolated Linux sandbox from a template and make it the default for later calls. Returns its sandbox_id.',
    input: CreateSandboxInput,
    annotations: hints(false, false, false),
    run: createSandboxTool,
  }),
  spec({
    name: 'exec',
    title: 'Run a shell command',
    description:
      'Run a shell command in a sandbox and return its exit code, stdout and stderr. Long output is cut to its start and end; the full text is saved to a file whose path the result gives.',
    input: ExecInput,
    annotations: hints(false, true, false),
    run: execTool,
  }),
  spec({
    name: 'run_code',
    title: 'Run code in the interpreter',
    description:
      "Run a Python (or JavaScript) cell in the sandbox's stateful interpreter; variables persist between calls. Returns printed output, the value of the last expression, charts as images and HTML as resources.",
    input: RunCodeInput,
    annotations: hints(false, true, false),
    run: runCodeTool,
  }),
  spec({
    name: 'read_file',
    title: 'Read a file',
    description: 'Read a text file from a sandbox (a window of it for large files).',
    input: ReadFileInput,
    annotations: hints(true, false, true),
    run: readFileTool,
  }),
  spec({
    name: 'write_file',
    title: 'Write a file',
    description: 'Write text to a file in a sandbox, replacing it and creating parent directories.',
    input: WriteFileInput,
    annotations: hints(false, true, true),
    run: writeFileTool,
  }),
  spec({
    name: 'list_files',
    title: 'List a directory',
    description: 'List the entries of a directory in a sandbox with their sizes.',
    input: ListFilesInput,
    annotations: hints(true, false, true),
    run: listFilesTool,
  }),
  spec({
    name: 'fork',
    title: 'Fork a sandbox',
    description:
      'Copy a running sandbox into independent children that start from its current files and interpreter state, to try alternatives in parallel. Returns the child ids; the parent stays the default.',
    input: ForkInput,
    annotations: hints(false, false, false),
    run: forkTool,
  }),
  spec({
    name: 'list_sandboxes',
    title: "List this session's sandboxes",
    description: 'List the sandboxes this session created or forked, marking the default one.',
    input: NoInput,
    annotations: hints(true, false, true),
    run: listSandboxesTool,
  }),
  spec({
    name: 'list_templates',
    title: 'List templates',
    description: 'List the templates sandboxes can be created from.',
    input: NoInput,
    annotations: hints(true, false, true),
    run: listTemplatesTool,
  }),
  spec({
    name: 'terminate',
    title: 'Terminate a sandbox',
    description: 'Stop and delete a sandbox and everything in it. Cannot be undone.',
    input: TerminateInput,
    annotations: hints(false, true, true),
    run: terminateTool,
  }),
];

/** Tools that act on one sandbox: what framework adapters hand to an agent bound to a sandbox. */
export const SANDBOX_TOOL_NAMES = ['exec', 'run_code', 'read_file', 'write_file', 'list_files', 'fork'] as const;
export type SandboxToolName = (typeof SANDBOX_TOOL_NAMES)[number];

export function toolsNamed(names: readonly string[]): ToolSpec[] {
  return names.map((n) => {
    const found = TOOLS.find((t) => t.name === n);
    if (!found) throw new Error(`unknown mitos tool ${n}`);
    return found;
  });
}

/**
 * Validate `args` against the tool's schema and run it. Never throws: bad arguments and
 * failures come back as error outputs carrying the mitos error code and its remediation.
 */
export async function callTool(
  tool: ToolSpec,
  session: ToolSession,
  args: unknown,
  ctx: ToolCallContext = {},
): Promise<ToolOutput> {
  const parsed = tool.input.safeParse(args ?? {});
  if (!parsed.success) return toolError(errorInfo(invalidArguments(tool.name, parsed.error)));
  try {
    return await tool.run(session, parsed.data, ctx);
  } catch (err) {
    return toolError(errorInfo(err));
  }
}
