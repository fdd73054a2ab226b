/** `mitos sandbox run-code <id> [code]`: one cell in the sandbox's stateful kernel. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Result, Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, parseIntOption, printJson, println, readStdin, usageError } from '../context.js';
import { ExitCode } from '../exit-codes.js';

/** The wire's default for a cell (DEFAULT_RUN_CODE_TIMEOUT_SECONDS, without importing zod). */
const DEFAULT_CELL_TIMEOUT_SECONDS = 60;

interface RunCodeFlags {
  language: string;
  timeout?: number;
  saveImages?: string;
}

/** Image MIME types written by --save-images, with their extension and payload encoding. */
const IMAGE_TYPES: readonly { mime: string; ext: string; encoding: 'base64' | 'utf8' }[] = [
  { mime: 'image/png', ext: 'png', encoding: 'base64' },
  { mime: 'image/jpeg', ext: 'jpg', encoding: 'base64' },
  { mime: 'image/svg+xml', ext: 'svg', encoding: 'utf8' },
];

export function registerRunCode(sandbox: Command): void {
  sandbox
    .command('run-code')
    .description(
      'run code in the sandbox kernel (state persists between calls); exits 1 if it raised, 124 past its timeout',
    )
    .argument('<id>', 'sandbox id')
    .argument('[code]', 'the code (default: read stdin)')
    .option('--language <lang>', 'kernel language', 'python')
    .option(
      '--timeout <seconds>',
      `stop the cell after this many seconds (default ${DEFAULT_CELL_TIMEOUT_SECONDS}, max 86400; exits 124)`,
      parseIntOption(0, 86_400_000),
    )
    .option('--save-images <dir>', 'write image results (png, jpeg, svg) into this directory')
    .action(
      action(async (ctx, id: string, codeArg: string | undefined) => {
        const o = ctx.cmd.opts<RunCodeFlags>();
        if (codeArg === undefined && process.stdin.isTTY) {
          throw usageError('no code given', 'pass the code as an argument or pipe it on stdin');
        }
        const code = codeArg ?? (await readStdin()).toString('utf8');
        const sb = await Sandbox.connect(id, ctx.client);
        const live = !ctx.json;
        const ex = await sb.runCode(code, {
          language: o.language,
          timeoutSeconds: o.timeout,
          onStdout: live ? (t) => process.stdout.write(t) : undefined,
          onStderr: live ? (t) => process.stderr.write(t) : undefined,
        });
        const saved = o.saveImages ? await saveImages(ex.results, o.saveImages) : [];
        if (ctx.json) {
          printJson({ ...ex.toJSON(), savedImages: saved });
        } else {
          if (ex.text !== undefined) println(ex.text);
          for (const path of saved) process.stderr.write(`saved ${path}\n`);
          const unsaved = o.saveImages ? 0 : ex.results.filter(hasImage).length;
          if (unsaved > 0) process.stderr.write(`(${unsaved} image result(s) not shown; use --save-images DIR)\n`);
          if (ex.error) process.stderr.write(formatTraceback(ex.error));
        }
        if (ex.error && isDeadline(ex.error)) return ExitCode.timeout;
        return ex.error ? 1 : 0;
      }),
    );
}

function hasImage(r: Result): boolean {
  return IMAGE_TYPES.some((t) => r.data[t.mime] !== undefined);
}

/** Write each image as result-<index>.<ext> (index in the cell's results) and return the paths. */
async function saveImages(results: readonly Result[], dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, r] of results.entries()) {
    for (const t of IMAGE_TYPES) {
      const payload = r.data[t.mime];
      if (payload === undefined) continue;
      if (paths.length === 0) await mkdir(dir, { recursive: true });
      const path = resolve(join(dir, `result-${i}.${t.ext}`));
      await writeFile(path, Buffer.from(payload, t.encoding));
      paths.push(path);
    }
  }
  return paths;
}

/**
 * The kernel's own deadline report: a TimeoutError without a traceback (one raised by the
 * user's code always has one).
 */
function isDeadline(error: { name: string; traceback: string[] }): boolean {
  return error.name === 'TimeoutError' && error.traceback.length === 0;
}

function formatTraceback(error: { name: string; value: string; traceback: string[] }): string {
  const lines = error.traceback.length > 0 ? error.traceback : [`${error.name}: ${error.value}`];
  // Python's traceback entries end in a newline already; others (JavaScript) do not.
  const text = lines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
  // Kernel tracebacks carry ANSI colours; keep them only for a terminal.
  return process.stderr.isTTY ? text : text.replace(/\x1b\[[0-9;]*m/g, '');
}
