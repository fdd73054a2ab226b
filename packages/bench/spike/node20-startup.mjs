// What Node 20 allows for a faster `mitos` start-up, checked on the node running this script
// (the findings behind packages/cli/src/launcher.ts; figures in BENCHMARKS.md):
//   node packages/bench/spike/node20-startup.mjs snapshot       a user-land startup snapshot of
//        a script that needs node:http, as the SDK does (`node --build-snapshot`)
//   node packages/bench/spike/node20-startup.mjs cached-import  a vm.Script compiled from its
//        code cache, then calling import() with vm's main-context loader
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'mitos-spike-startup-'));
try {
  const what = process.argv[2];
  if (what === 'snapshot') {
    const entry = join(dir, 'entry.cjs');
    writeFileSync(
      entry,
      "const http = require('node:http');\n" +
        "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => console.log(typeof http.request));\n",
    );
    const blob = join(dir, 'snap.blob');
    const built = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', entry], { encoding: 'utf8' });
    console.log(`build-snapshot exit ${built.status}`);
    console.log(built.stderr.trim().split('\n').slice(-8).join('\n'));
    if (built.status === 0) {
      const ran = spawnSync(process.execPath, ['--snapshot-blob', blob], { encoding: 'utf8' });
      console.log(`run from the snapshot: exit ${ran.status}, ${ran.stdout.trim()}`);
    }
  } else if (what === 'cached-import') {
    // In a process of its own each time: within one process V8 reuses the script it compiled.
    const child = join(dir, 'child.mjs');
    writeFileSync(
      child,
      `import vm from 'node:vm';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const file = ${JSON.stringify(join(dir, 'cache.bin'))};
const cachedData = existsSync(file) ? readFileSync(file) : undefined;
const source = '(async () => typeof (await import("node:os")).cpus)()';
const script = new vm.Script(source, { filename: ${JSON.stringify(join(dir, 'x.cjs'))}, cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
const result = await script.runInThisContext().catch((err) => 'error: ' + err.message);
console.log((cachedData ? 'from its code cache (rejected: ' + script.cachedDataRejected + '): ' : 'compiled: ') + result);
if (!cachedData) writeFileSync(file, script.createCachedData());
`,
    );
    for (let i = 0; i < 2; i++) {
      const r = spawnSync(process.execPath, ['--no-warnings', child], { encoding: 'utf8' });
      console.log((r.stdout + r.stderr).trim());
    }
  } else {
    console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(0, 7).join('\n'));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
