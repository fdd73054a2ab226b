/** The command tree. Every command but `serve` and `doctor` goes through @mitos/sdk. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerAuth } from './commands/auth.js';
import { registerDoctor } from './commands/doctor.js';
import { registerFiles } from './commands/files.js';
import { registerFork } from './commands/fork.js';
import { registerInstall } from './commands/install.js';
import { registerMcp } from './commands/mcp.js';
import { registerRun } from './commands/run.js';
import { registerSandbox } from './commands/sandbox.js';
import { registerServe } from './commands/serve.js';
import { registerTemplate } from './commands/template.js';
import { registerWorkspace } from './commands/workspace.js';
import { collect } from './context.js';
import { EXIT_CODE_HELP } from './exit-codes.js';

export function buildProgram(): Command {
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

  registerServe(program);
  registerDoctor(program);
  registerInstall(program);
  registerSandbox(program);
  registerRun(program);
  registerFork(program);
  registerTemplate(program);
  registerFiles(program);
  registerAuth(program);
  registerMcp(program);
  registerWorkspace(program);
  return program;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
