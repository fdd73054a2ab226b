import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

it('loads @kubernetes/client-node only on first use of cluster mode (no static import in the SDK)', () => {
  // This test runs from dist-test/; the SDK it inspects is the built one in dist/.
  const distRoot = join(dirname(fileURLToPath(import.meta.url)), '../../dist');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js') && !entry.name.endsWith('.test.js')) files.push(path);
    }
  };
  walk(distRoot);
  const staticImport = /^\s*(?:import|export)\s[^;]*?from\s*['"]@kubernetes\/client-node['"]/m;
  for (const file of files) assert.ok(!staticImport.test(readFileSync(file, 'utf8')), file);
  assert.ok(files.some((f) => readFileSync(f, 'utf8').includes("import('@kubernetes/client-node')")));
});
