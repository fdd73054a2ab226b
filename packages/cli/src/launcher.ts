/**
 * The `mitos` bin (bundled as CommonJS to dist/main.cjs): loads the command's CommonJS bundle
 * (dist/mitos.cjs, from cli.ts) through V8's code cache (compile-cache.ts), so a command does not
 * pay to compile the bundle on every start. CommonJS throughout, because node's ESM loader costs
 * more to start and to load node's own modules than `require` does, and a script can take cached
 * data where a module cannot.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { openCompileCache } from './compile-cache.js';

/** The bundle's content hash, set by bundle.mjs: names its cache. */
declare const MITOS_CLI_BUNDLE_KEY: string;

// This file runs as CommonJS (bundle.mjs), so __dirname is its directory.
const bundle = join(__dirname, 'mitos.cjs');
const cache = openCompileCache(`${MITOS_CLI_BUNDLE_KEY}-${commandWord(process.argv)}`);
// The wrapper node's CommonJS loader puts around a module, plus `__import`: Node 20 drops a
// cached script's own import() callback, so the packages the bundle leaves outside (the server
// runtime, MCP, zod) are imported from here, resolved from beside this file as from the bundle.
const source = `(function (exports, require, module, __filename, __dirname, __import) {${readFileSync(bundle, 'utf8')}\n})`;
const script = new Script(source, { filename: bundle, cachedData: cache.data });
if (cache.data === undefined || script.cachedDataRejected === true) {
  // Saved as the command ends, so the cache also holds the functions this command compiled.
  process.once('exit', () => cache.save(() => script.createCachedData()));
}
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(
  module.exports,
  createRequire(bundle),
  module,
  bundle,
  dirname(bundle),
  (specifier: string) => import(specifier),
);

/**
 * Which cache a command line reads: one per top-level command, since a cache holds the functions
 * its first run compiled (`run` the SDK's exec stream, `--version` almost nothing). Anything but
 * a plain command word first (an option, a typo's odd characters) shares one.
 */
function commandWord(argv: readonly string[]): string {
  const word = argv[2] ?? '';
  return /^[a-z]{1,16}$/.test(word) ? word : '_';
}
