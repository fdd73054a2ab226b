/** `mitos install`: run `mitos serve` as a systemd service on this host (see @mitos/runtime service). */
import { realpathSync } from 'node:fs';
import type { Command } from 'commander';
import { action, parseIntOption, printJson, println } from '../context.js';

interface InstallFlags {
  rootDir: string;
  stateDir: string;
  host: string;
  port: number;
}

export function registerInstall(program: Command): void {
  program
    .command('install')
    .description('write a systemd unit for `mitos serve`, a root-only API key and /var/lib/mitos')
    .option('--root-dir <dir>', 'write into this tree instead of / (paths in the unit stay absolute)', '/')
    .option('--state-dir <dir>', 'the server state directory on the target', '/var/lib/mitos')
    .option('--host <host>', 'address the service listens on', '127.0.0.1')
    .option('--port <port>', 'port the service listens on', parseIntOption(1, 65_535), 8080)
    .action(
      action(async (ctx) => {
        const o = ctx.cmd.opts<InstallFlags>();
        const { installService } = await import('@mitos/runtime');
        // The unit runs this very CLI with this very Node, by real path: an npx cache or a
        // symlinked bin may move, the files behind them do not. The script Node was started
        // with, not a path beside this module: the command ships as one bundled file.
        const cliPath = realpathSync(process.argv[1] ?? '');
        const done = installService({
          rootDir: o.rootDir,
          stateDir: o.stateDir,
          host: o.host,
          port: o.port,
          nodePath: realpathSync(process.execPath),
          cliPath,
        });
        if (ctx.json) return printJson(done);
        println(`wrote ${done.unitPath}`);
        println(`${done.keyCreated ? 'created' : 'kept'} the API key in ${done.keyPath} (root only)`);
        println(`state directory ${done.stateDir}`);
        if (o.rootDir === '/') {
          println('\nstart it:  systemctl daemon-reload && systemctl enable --now mitos');
          println(
            `clients:   MITOS_API_KEY=$(sudo cat ${done.keyPath}) MITOS_BASE_URL=http://${o.host}:${o.port} mitos run -- echo hi`,
          );
          println('check it:  mitos doctor');
        }
        return 0;
      }),
    );
}
