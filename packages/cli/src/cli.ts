/**
 * The `mitos` command. Exit codes are listed in `mitos --help` (exit-codes.ts). Keep the imports
 * here light: everything a command needs is loaded by program.ts once the command is known.
 * @module
 */
import { CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';
import { buildProgram } from './program.js';

// `mitos sandbox ls | head` closes our stdout early; that is not an error worth a trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed the message or the help text.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? ExitCode.ok : ExitCode.usage;
    }
    process.stderr.write(`error [internal]: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.failed;
  }
}

/** Wait until both streams have handed their buffers to the OS, then exit with `code`. */
async function exit(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))),
  );
  process.exit(code);
}

// No top-level await: the bundle is CommonJS (see launcher.ts).
void main(process.argv).then(exit);
