/**
 * What every command gets: the global options, the SDK client options they imply, and one
 * wrapper that turns a thrown error into the printed report and the exit code.
 * @module
 */
import { AgentRunError, type ClientOptions, resolveConfig } from '@mitos/sdk';
import type { Command } from 'commander';
import { exitCodeFor, formatError } from './report.js';

export { collect, parseEnvOption, parseIntOption } from './args.js';

export interface GlobalOptions {
  baseUrl?: string;
  /** Every --api-key given; `mitos serve` accepts them all, clients send the last. */
  apiKey?: string[];
  json?: boolean;
}

export interface Ctx {
  cmd: Command;
  globals: GlobalOptions;
  client: ClientOptions;
  json: boolean;
}

/** Wrap a command body: a number it returns is the exit code (else 0); a throw is reported on stderr. */
export function action<A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<unknown>) {
  return async (...raw: unknown[]): Promise<void> => {
    const cmd = raw.at(-1) as Command;
    // commander passes the positional arguments, then the options object, then the command.
    const args = raw.slice(0, -2) as A;
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    const ctx: Ctx = {
      cmd,
      globals,
      client: { baseUrl: globals.baseUrl, apiKey: globals.apiKey?.at(-1) },
      json: globals.json === true,
    };
    try {
      const code = await fn(ctx, ...args);
      process.exitCode = typeof code === 'number' ? code : 0;
    } catch (err) {
      process.stderr.write(`${formatError(err, ctx.json, secretsOf(ctx))}\n`);
      process.exitCode = exitCodeFor(err);
    }
  };
}

function secretsOf(ctx: Ctx): string[] {
  const out = [...(ctx.globals.apiKey ?? [])];
  try {
    const { apiKey } = resolveConfig(ctx.client);
    if (apiKey) out.push(apiKey);
  } catch {
    // Redaction must never be the reason an error goes unreported.
  }
  return out;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A notice that does not change the outcome: on stderr, so stdout stays the command's answer. */
export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

export function println(text: string): void {
  process.stdout.write(`${text}\n`);
}

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A bad invocation found after parsing; exits 2 like commander's own usage errors. */
export function usageError(cause: string, remediation: string): AgentRunError {
  return new AgentRunError({ code: 'invalid_request', message: 'invalid command line', cause, remediation });
}
