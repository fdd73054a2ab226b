// A real server for timing client processes from the shell (the CLI against a peer): starts the
// bench's server with a warm pool, prepares the python template, writes MITOS_BASE_URL and
// MITOS_API_KEY to the file named by the first argument, and serves until SIGINT or SIGTERM.
//   node packages/bench/spike/cli-server.mjs /tmp/cli-env [warm-pool-size]
import { writeFileSync } from 'node:fs';
import { prepareTemplate } from '../dist/mitos/client.js';
import { startBenchEnv } from '../dist/mitos/bench-env.js';

const [file, pool = '2'] = process.argv.slice(2);
const env = await startBenchEnv(Number(pool));
try {
  await prepareTemplate(env);
  writeFileSync(file, `export MITOS_BASE_URL=${env.url}\nexport MITOS_API_KEY=${env.apiKey}\n`, { mode: 0o600 });
  console.log(`serving at ${env.url} (${env.engineLabel}); env in ${file}`);
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
} finally {
  await env.close();
}
