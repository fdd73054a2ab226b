// Bundles the command from the TypeScript build into two files:
//   dist/mitos.cjs  the command (from dist/cli.js) as one CommonJS script. Node then reads and
//                   compiles one file instead of resolving and loading some sixty modules (the
//                   command tree, the SDK, commander), and requires its own modules the cheap way.
//   dist/main.cjs   the package's bin (from dist/launcher.js), CommonJS too: runs dist/mitos.cjs
//                   through V8's code cache, named by the bundle's content hash (src/compile-cache.ts).
//   dist/main.js    `import './main.cjs'`, for command lines written before the bin was CommonJS
//                   (`node packages/cli/dist/main.js ...`); it pays node's ESM start-up on top.
// Packages that are big, native or only some commands need stay outside and are imported when
// used: the server runtime, MCP, and the protocol's zod schemas.
//   node bundle.mjs            (npm run build runs it after tsc)
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const here = new URL('.', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(new URL('package.json', import.meta.url), 'utf8'));

const common = {
  absWorkingDir: here,
  bundle: true,
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
};

const command = await build({
  ...common,
  entryPoints: ['dist/cli.js'],
  outfile: 'dist/mitos.cjs',
  format: 'cjs',
  define: { MITOS_CLI_VERSION: JSON.stringify(version) },
  plugins: [
    {
      name: 'keep-outside',
      setup(b) {
        // Exactly these specifiers: '@mitos/protocol/client' (small, no zod) is bundled.
        const outside = /^(@mitos\/runtime|@mitos\/mcp|@mitos\/protocol|@kubernetes\/client-node)$/;
        b.onResolve({ filter: outside }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});
// The bundle runs as a vm script (for its code cache), and Node 20 loses a cached script's
// dynamic import() callback ("A dynamic import callback was not specified"): its imports of the
// packages kept outside go through the launcher's own import() instead, passed in as __import.
// Any other import() left in the output would fail at run time, so it fails the build.
const external = /(?<![\w$.])import\(("(?:@mitos\/(?:runtime|mcp|protocol)|@kubernetes\/client-node)")\)/g;
const commandText = command.outputFiles[0].text.replace(external, '__import($1)');
const stray = commandText.match(/(?<![\w$.])import\s*\(.{0,40}/g);
if (stray) throw new Error(`bundle.mjs: dynamic import() the launcher cannot serve: ${stray.join(' | ')}`);
writeFileSync(`${here}dist/mitos.cjs`, commandText);

const bundleKey = createHash('sha256').update(commandText).digest('hex').slice(0, 32);
await build({
  ...common,
  write: true,
  entryPoints: ['dist/launcher.js'],
  outfile: 'dist/main.cjs',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  define: { MITOS_CLI_BUNDLE_KEY: JSON.stringify(bundleKey) },
});
writeFileSync(`${here}dist/main.js`, "#!/usr/bin/env node\nimport './main.cjs';\n");
