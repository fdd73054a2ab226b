/** `mitos files read|write|ls`. */
import { type FileEntry, Sandbox } from '@mitos/sdk';
import { type Command, InvalidArgumentError } from 'commander';
import { action, printJson, println, readStdin, usageError } from '../context.js';
import { table } from '../table.js';

export function registerFiles(program: Command): void {
  const files = program.command('files').description('read, write and list files inside a sandbox');

  files
    .command('read')
    .alias('cat')
    .description('print a file to stdout')
    .argument('<id>', 'sandbox id')
    .argument('<path>', 'file path inside the sandbox')
    .option('--binary', 'copy the exact bytes (default: text)')
    .action(
      action(async (ctx, id: string, path: string) => {
        const sb = await Sandbox.connect(id, ctx.client);
        if (ctx.cmd.opts<{ binary?: boolean }>().binary) process.stdout.write(await sb.files.readBytes(path));
        else process.stdout.write(await sb.files.read(path));
      }),
    );

  files
    .command('write')
    .description('write a file from --content or stdin')
    .argument('<id>', 'sandbox id')
    .argument('<path>', 'file path inside the sandbox')
    .option('--content <text>', 'file content (default: read stdin)')
    .option('--mode <octal>', 'permission bits, e.g. 644 or 755', parseMode)
    .action(
      action(async (ctx, id: string, path: string) => {
        const o = ctx.cmd.opts<{ content?: string; mode?: number }>();
        if (o.content === undefined && process.stdin.isTTY) {
          throw usageError('no content given', 'pass --content TEXT or pipe the file on stdin');
        }
        const content = o.content ?? asTextIfUtf8(await readStdin());
        const sb = await Sandbox.connect(id, ctx.client);
        await sb.files.write(path, content, o.mode === undefined ? {} : { mode: o.mode });
        if (ctx.json)
          printJson({ path, bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.length });
      }),
    );

  files
    .command('ls')
    .alias('list')
    .description('list a directory')
    .argument('<id>', 'sandbox id')
    .argument('[path]', 'directory inside the sandbox', '/')
    .action(
      action(async (ctx, id: string, path: string) => {
        const sb = await Sandbox.connect(id, ctx.client);
        const entries = await sb.files.list(path);
        if (ctx.json) return void printJson(entries);
        println(table(['MODE', 'SIZE', 'MODIFIED', 'NAME'], entries.map(row)));
      }),
    );
}

function row(e: FileEntry): string[] {
  return [permString(e), String(e.size), e.modifiedAt?.toISOString() ?? '', e.isDir ? `${e.name}/` : e.name];
}

/** `drwxr-xr-x` from the permission bits; the type comes from isDir (the wire mode has Go type bits). */
function permString(e: FileEntry): string {
  const bits = 'rwxrwxrwx';
  let out = e.isDir ? 'd' : '-';
  for (let i = 0; i < 9; i++) out += e.mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

/** Text goes as text; anything that is not valid UTF-8 goes as exact bytes. */
function asTextIfUtf8(buf: Buffer): string | Uint8Array {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    return buf;
  }
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3,4}$/.test(value)) throw new InvalidArgumentError('expected octal permission bits like 644');
  return Number.parseInt(value, 8);
}
