/**
 * How `sandbox exec` and `run` carry a command: our stdin in (when it is a pipe or a file), the
 * output out as it is produced, and the command's status as ours. Output is streamed even when
 * it is not shown live (--json), so a command killed at its deadline still reports what it
 * printed first.
 */
import { fstatSync } from 'node:fs';
import { type ExecOptions, ExecutionDeadlineError, type Sandbox } from '@mitos/sdk';
import type { Command } from 'commander';
import { parseEnvOption, parseIntOption, printJson, readStdin } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatError } from '../report.js';

/** What the wire runs when no --timeout is given (DEFAULT_EXEC_TIMEOUT_SECONDS, without importing zod). */
const DEFAULT_TIMEOUT_SECONDS = 30;

export interface ExecFlags {
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** true: always send stdin; false: never; undefined: when it is a pipe or a file. */
  stdin?: boolean;
}

/** Add the flags `sandbox exec` and `run` share. */
export function withExecFlags(cmd: Command): Command {
  return cmd
    .option(
      '--timeout <seconds>',
      `kill the command after this many seconds (default ${DEFAULT_TIMEOUT_SECONDS}, max 86400; exits 124)`,
      parseIntOption(0, 86_400_000),
    )
    .option('--cwd <dir>', 'working directory inside the sandbox')
    .option('--env <KEY=VALUE>', 'environment variable for the command (repeatable)', parseEnvOption)
    .option('-i, --stdin', 'send our stdin to the command (the default when stdin is a pipe or a file)')
    .option('--no-stdin', 'never send our stdin; the command reads end-of-file');
}

/**
 * Our stdin as bytes for the command, or undefined. A terminal or an inherited socket is not
 * read unless asked: waiting for an end-of-file that never comes would hang the command.
 */
export async function stdinFor(flag: boolean | undefined): Promise<Buffer | undefined> {
  if (flag === false) return undefined;
  if (flag === undefined) {
    let piped = false;
    try {
      const st = fstatSync(0);
      piped = st.isFIFO() || st.isFile();
    } catch {
      // No stdin at all (closed descriptor): nothing to send.
    }
    if (!piped) return undefined;
  }
  return readStdin();
}

/** Exit statuses are 0-255; anything else (a signal report) cannot pass through as-is. */
export function exitStatus(code: number): number {
  return code >= 0 && code <= 255 ? code : 1;
}

/**
 * Run `command` in `sb` and relay it: live on our streams, or one JSON object at the end with
 * --json. Returns our exit status: the command's, or 124 when its deadline killed it.
 */
export async function execAndRelay(
  sb: Sandbox,
  command: string,
  flags: ExecFlags,
  json: boolean,
  signal?: AbortSignal,
): Promise<number> {
  const stdout: Uint8Array[] = [];
  const stderr: Uint8Array[] = [];
  const opts: ExecOptions = {
    timeoutSeconds: flags.timeout,
    cwd: flags.cwd,
    env: flags.env,
    stdin: await stdinFor(flags.stdin),
    signal,
    onStdout: json ? (d) => stdout.push(d) : (d) => process.stdout.write(d),
    onStderr: json ? (d) => stderr.push(d) : (d) => process.stderr.write(d),
  };
  try {
    const result = await sb.exec(command, opts);
    if (json) printJson(result);
    return exitStatus(result.exitCode);
  } catch (err) {
    if (!(err instanceof ExecutionDeadlineError)) throw err;
    // What the command printed before its deadline is part of the answer, not lost with it.
    if (json) {
      const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('utf8');
      printJson({ exitCode: ExitCode.timeout, timedOut: true, stdout: text(stdout), stderr: text(stderr) });
    }
    process.stderr.write(`${formatError(err, json, [])}\n`);
    return ExitCode.timeout;
  }
}
