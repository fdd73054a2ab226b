import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { create } from '@mitos/sdk';
import { testEngineEnv } from '@mitos/testkit';
import { freePort, spawnServe, waitHealthy } from './fixtures.js';

describe('end to end: server restart', { timeout: 600_000 }, () => {
  const env = testEngineEnv();
  after(() => env.cleanup());

  test('sandboxes created before a kill -9 of the server still answer after it restarts', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let server = spawnServe(env, port);
    await waitHealthy(url);
    const sb = await create('python', { baseUrl: url });
    await sb.files.write('/workspace/state.txt', 'survives');
    await sb.exec('nohup sleep 600 >/dev/null 2>&1 &');
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));

    server = spawnServe(env, port);
    try {
      await waitHealthy(url);
      const r = await sb.exec('cat /workspace/state.txt; pgrep -c sleep');
      assert.equal(r.stdout, 'survives1\n');
      await sb.terminate();
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  });
});
