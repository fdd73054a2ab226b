// The console bundle: served by `mitos serve` under /console, so every URL is relative to it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./src/app', import.meta.url)),
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('./dist/app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The terminal is only needed on a sandbox page, so it is its own chunk, loaded on demand.
    chunkSizeWarningLimit: 600,
    sourcemap: false,
  },
});
