import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeSpawn } from './spawn-timing.js';

test("a timed peer's stdio are never the host's /dev/null (crun chowns its stdio)", async () => {
  const t = await timeSpawn({ command: 'sh', args: ['-c', 'readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2'] });
  assert.equal(t.exitCode, 0, t.stderr);
  const targets = t.stdout.trim().split('\n');
  assert.equal(targets.length, 3, t.stdout);
  for (const target of targets) assert.notEqual(target, '/dev/null');
});
