import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goFileMode, toFileEntry, toSandboxRecord } from './records.js';

describe('goFileMode', () => {
  it('matches Go os.FileMode integers', () => {
    assert.equal(goFileMode('dir', 0o755), 2147484141);
    assert.equal(goFileMode('file', 0o644), 420);
    assert.equal(goFileMode('symlink', 0o777), 2 ** 27 + 0o777);
    assert.equal(goFileMode('file', 0o4755), 2 ** 23 + 0o755);
    assert.equal(goFileMode('dir', 0o1777), 2 ** 31 + 2 ** 20 + 0o777);
    assert.equal(goFileMode('other', 0o600), 2 ** 19 + 0o600);
  });
});

describe('toFileEntry', () => {
  it('reports whole unix seconds and is_dir', () => {
    assert.deepEqual(toFileEntry({ name: 'a', kind: 'dir', size: 4096, mode: 0o700, mtimeMs: 1_750_000_000_999 }), {
      name: 'a',
      is_dir: true,
      size: 4096,
      mode: 2 ** 31 + 0o700,
      modified_at: 1_750_000_000,
    });
  });
});

describe('toSandboxRecord', () => {
  it('keeps fork_time_ms above 0 even when a driver measured 0', () => {
    const record = toSandboxRecord({
      sandbox: {
        id: 'sb',
        templateId: 't',
        state: 'running',
        createdAt: new Date(0),
        forkTimeMs: 0,
        hostname: 'sb',
        limits: { memoryBytes: 1, pids: 1, cpus: 1 },
        parentId: null,
        generation: 0,
      },
      template: undefined,
      endpoint: 'http://x',
    });
    assert.ok(record.fork_time_ms > 0);
    assert.equal(record.created_at, '1970-01-01T00:00:00.000Z');
  });
});
