import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { mapHostError } from './errors.js';
import { run } from './run.js';

describe('host error table', () => {
  const rows: Array<[string, object, string]> = [
    ['full disk from a tool', { code: 1, stderr: 'cp: error writing x: No space left on device' }, 'disk_full'],
    ['full disk errno', { code: 'ENOSPC', message: 'ENOSPC: no space left' }, 'disk_full'],
    ['missing binary', { code: 'ENOENT', message: 'spawn mkfs.btrfs ENOENT' }, 'host_unsupported'],
    ['no btrfs driver', { code: 32, stderr: "mount: /x: unknown filesystem type 'btrfs'." }, 'host_unsupported'],
    ['no loop devices', { code: 1, stderr: 'losetup: cannot find an unused loop device' }, 'host_unsupported'],
    ['not root', { code: 1, stderr: 'mount: only root can do that: Operation not permitted' }, 'host_unsupported'],
    ['anything else', { code: 1, stderr: 'ERROR: cannot snapshot: File exists' }, 'internal'],
  ];
  for (const [name, failure, code] of rows) {
    test(`${name} -> ${code}`, () => {
      const err = mapHostError(failure, 'tool args');
      assert.ok(err instanceof MitosError);
      assert.equal(err.code, code);
      assert.match(err.detail, /^tool args: /);
    });
  }

  test('a MitosError passes through unchanged', () => {
    const original = new MitosError('conflict', 'x');
    assert.equal(mapHostError(original, 'y'), original);
  });

  test('run() rejects with the mapped error and resolves with output', async () => {
    assert.equal((await run('sh', ['-c', 'echo out; echo err >&2'])).stdout, 'out\n');
    await assert.rejects(
      run('sh', ['-c', 'echo "No space left on device" >&2; exit 1']),
      (e: MitosError) => e.code === 'disk_full',
    );
    await assert.rejects(run('/nonexistent/tool', []), (e: MitosError) => e.code === 'host_unsupported');
  });
});
