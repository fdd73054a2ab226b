/** `mitos auth login|whoami`: the credentials file the SDK reads too. */
import { type ApiKeySource, readCredentials, resolveConfig, writeCredentials } from '@mitos/sdk';
import type { Command } from 'commander';
import { action, printJson, println, readStdin, usageError } from '../context.js';
import { maskKey } from '../report.js';
import { probeServer } from '../server-check.js';

export function registerAuth(program: Command): void {
  const auth = program.command('auth').description('store and inspect the API key');

  auth
    .command('login')
    .description('save an API key to the credentials file (mode 0600); --base-url is saved too')
    .requiredOption('--token <token>', 'API key to save; "-" reads it from stdin')
    .action(
      action(async (ctx) => {
        let token = ctx.cmd.opts<{ token: string }>().token;
        if (token === '-') token = (await readStdin()).toString('utf8').trim();
        if (!token) throw usageError('the token is empty', 'pass --token KEY, or pipe the key into --token -');
        const baseUrl = ctx.globals.baseUrl ?? readCredentials()?.base_url;
        const path = writeCredentials(
          typeof baseUrl === 'string' && baseUrl ? { token, base_url: baseUrl } : { token },
        );
        if (ctx.json) printJson({ credentialsPath: path, apiKey: maskKey(token) });
        else println(`saved ${maskKey(token)} to ${path}`);
      }),
    );

  auth
    .command('whoami')
    .description('show which server and key are in use, and check a mitos server answers there (exits 5 if not)')
    .action(
      action(async (ctx) => {
        const cfg = resolveConfig(ctx.client);
        const key = cfg.apiKey ? maskKey(cfg.apiKey) : undefined;
        const where = sourceLabel(cfg.apiKeySource, cfg.credentialsPath);
        if (!ctx.json) {
          println(`server:  ${cfg.baseUrl} (${cfg.baseUrlSource === 'argument' ? '--base-url' : cfg.baseUrlSource})`);
          println(`api key: ${key ? `${key} (from ${where})` : 'none (tokenless)'}`);
        }
        const probe = await probeServer(ctx.client);
        if (probe.kind !== 'mitos') throw probe.error;
        const health = probe.health;
        if (ctx.json) {
          printJson({
            baseUrl: cfg.baseUrl,
            baseUrlSource: cfg.baseUrlSource,
            apiKey: key ?? null,
            apiKeySource: cfg.apiKeySource,
            credentialsPath: cfg.credentialsPath ?? null,
            server: health,
          });
        } else {
          const version = typeof health.version === 'string' ? ` (mitos ${health.version})` : '';
          println(`status:  ${health.status}${version}`);
        }
      }),
    );
}

function sourceLabel(source: ApiKeySource, path: string | undefined): string {
  if (source === 'argument') return '--api-key';
  if (source === 'env') return 'MITOS_API_KEY';
  if (source === 'credentials') return path ?? 'credentials file';
  return 'nowhere';
}
