/**
 * The command tree, built lazily: each top-level command lives in its own module, and only the
 * one the command line names is imported, so `mitos --version` or `mitos run` never pay for
 * the rest (the SDK, zod, ws, the runtime). Help and unknown commands load them all.
 * To add a top-level command, add one line to COMMANDS.
 */
import { Command } from 'commander';
import { collect } from './args.js';
import { EXIT_CODE_HELP } from './exit-codes.js';

type Register = (program: Command) => void;

interface CommandEntry {
  name: string;
  aliases?: readonly string[];
  load: () => Promise<Register>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'serve', load: async () => (await import('./commands/serve.js')).registerServe },
  { name: 'doctor', load: async () => (await import('./commands/doctor.js')).registerDoctor },
  { name: 'sandbox', load: async () => (await import('./commands/sandbox.js')).registerSandbox },
  { name: 'run', load: async () => (await import('./commands/run.js')).registerRun },
  { name: 'fork', load: async () => (await import('./commands/fork.js')).registerFork },
  { name: 'template', load: async () => (await import('./commands/template.js')).registerTemplate },
  { name: 'files', load: async () => (await import('./commands/files.js')).registerFiles },
  { name: 'metering', load: async () => (await import('./commands/metering.js')).registerMetering },
  { name: 'auth', load: async () => (await import('./commands/auth.js')).registerAuth },
  { name: 'workspace', load: async () => (await import('./commands/workspace.js')).registerWorkspace },
  { name: 'install', load: async () => (await import('./commands/install.js')).registerInstall },
  { name: 'mcp', load: async () => (await import('./commands/mcp.js')).registerMcp },
];

/** Global options that take a value, so the word after them is not a command name. */
const VALUE_OPTIONS = new Set(['--base-url', '--api-key']);

/** The top-level command `argv` (process.argv) names, or undefined (help, --version, a typo). */
export function commandNamed(argv: readonly string[]): CommandEntry | undefined {
  for (let i = 2; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (word === '--') return undefined;
    if (word.startsWith('-')) {
      if (VALUE_OPTIONS.has(word)) i++;
      continue;
    }
    return COMMANDS.find((c) => c.name === word || c.aliases?.includes(word));
  }
  return undefined;
}

/** True when the command line only asks for the version: no command module is needed. */
function versionOnly(argv: readonly string[]): boolean {
  return argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V');
}

/** The program with the commands `argv` needs registered (all of them when unsure). */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('mitos')
    .description('isolated, forkable sandboxes for AI agents')
    .version(packageVersion(), '-V, --version')
    .option('--base-url <url>', 'server URL (default: MITOS_BASE_URL, credentials file, http://127.0.0.1:8080)')
    .option('--api-key <key>', 'API key (default: MITOS_API_KEY, then `mitos auth login`)', collect)
    .option('--json', 'machine-readable output (errors as the JSON envelope on stderr)')
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    // Must precede the subcommands: they copy this setting when created.
    .exitOverride()
    .showSuggestionAfterError()
    .configureHelp({ showGlobalOptions: true });
  if (versionOnly(argv)) return program;
  const named = commandNamed(argv);
  const entries = named ? [named] : COMMANDS;
  const registers = await Promise.all(entries.map((c) => c.load()));
  for (const register of registers) register(program);
  return program;
}

/** The package's version, set by bundle.mjs (the command ships bundled). */
declare const MITOS_CLI_VERSION: string | undefined;

function packageVersion(): string {
  return typeof MITOS_CLI_VERSION === 'string' ? MITOS_CLI_VERSION : '0.0.0-unbundled';
}
