/**
 * The command of an ExecOpen or ExecStreamRequest as the engine runs it. The engine takes one
 * shell command line; an argv (`args` set) is quoted into one so it runs without the shell
 * interpreting any of it, as the contract asks.
 */
import type { ExecOptions } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

interface CommandFields {
  command: string;
  args: readonly string[];
  env: ReadonlyArray<{ key: string; value: string }>;
  cwd: string;
}

export function commandOptions(fields: CommandFields): Pick<ExecOptions, 'command' | 'cwd' | 'env'> {
  if (fields.command === '') throw new MitosError('invalid_json', 'command is required');
  const env: Record<string, string> = {};
  for (const { key, value } of fields.env) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw new MitosError('invalid_json', `env key ${JSON.stringify(key)} is not a variable name`);
    }
    env[key] = value;
  }
  return {
    command: fields.args.length === 0 ? fields.command : argvCommand([fields.command, ...fields.args]),
    ...(fields.cwd !== '' && { cwd: fields.cwd }),
    ...(fields.env.length > 0 && { env }),
  };
}

/** `exec 'argv0' 'arg1' ...`: each word single-quoted, so nothing in it is expanded. */
export function argvCommand(argv: readonly string[]): string {
  return `exec ${argv.map(shellQuote).join(' ')}`;
}

export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new MitosError('invalid_json', 'arguments must not contain NUL bytes');
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
