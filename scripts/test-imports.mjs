// Tests compile apart from the libraries: packages/X/dist-test/ mirrors packages/X/dist/ and
// holds only tests and test-only helpers. A test's relative import of a library module (say
// `./app.js`) resolves to the same path under dist/, so tests and libraries share one copy of
// every module. Loaded with `node --import ./scripts/test-imports.mjs` (run-tests.mjs does).
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const parent = context.parentURL ?? '';
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.startsWith('.') || !parent.includes('/dist-test/')) throw err;
    return next(new URL(specifier, parent).href.replace('/dist-test/', '/dist/'), context);
  }
}`),
);
