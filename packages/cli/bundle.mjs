// Bundles the command into one file, dist/main.js (the package's bin), from the TypeScript
// build's dist/cli.js. Node then reads and compiles one module instead of resolving and loading
// some sixty (the command tree, the SDK, commander), which is most of what `mitos run` paid
// before its first request. Packages that are big, native or only some commands need stay
// outside and are imported when used: the server runtime, MCP, and the protocol's zod schemas.
//   node bundle.mjs            (npm run build runs it after tsc)
import { build } from 'esbuild';

const here = new URL('.', import.meta.url).pathname;

await build({
  absWorkingDir: here,
  entryPoints: [{ in: 'dist/cli.js', out: 'main' }],
  outdir: 'dist',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The entry's #! line is kept first by esbuild. commander and ws are CommonJS: their require() of Node's own modules needs a real require.
  banner: {
    js: [
      "import { createRequire as __mitosCreateRequire } from 'node:module';",
      'const require = __mitosCreateRequire(import.meta.url);',
    ].join('\n'),
  },
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
  legalComments: 'none',
  logLevel: 'warning',
});
