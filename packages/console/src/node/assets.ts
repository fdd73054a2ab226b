/**
 * Where the built console lives, for the server that serves it. The bundle is built by
 * `npm run build` (vite) into this package's dist/app and ships with the package.
 */
import { fileURLToPath } from 'node:url';

export function consoleAssetsDir(): string {
  return fileURLToPath(new URL('../app', import.meta.url));
}
