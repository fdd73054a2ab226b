import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeExpecting } from './spawn-timing.js';

test("a timed peer's stdio are pipes, never the host's /dev/null (crun chowns its stdio)", async () => {
  const t = await timeExpecting(
    { command: 'sh', args: ['-c', 'for fd in 0 1 2; do readlink /proc/self/fd/$fd | cut -d: -f1; done | sort -u'] },
    'pipe',
  );
  assert.equal(t.exitCode, 0);
});
