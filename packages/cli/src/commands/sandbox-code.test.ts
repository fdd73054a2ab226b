import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useFakeServer } from '../test-support/fake-server.js';

const { fake, root, cli } = useFakeServer({ prefix: 'mitos-cli-code-', sandboxes: { 'sb-1': 'python' } });

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]);

function onRunCode(lines: unknown[]): void {
  fake.override = (req) => (req.url === '/v1/run_code/stream' ? { ndjson: lines } : undefined);
}

describe('sandbox run-code', () => {
  test('prints stdout live and then the main result text', async () => {
    onRunCode([
      { kind: 'stdout', stdout: b64('computing\n') },
      { kind: 'stderr', stderr: b64('note\n') },
      { kind: 'result', result: { text: '12.0', data: { 'text/plain': '12.0' } } },
      { kind: 'exit', exit_code: 0 },
    ]);
    const r = await cli(['sandbox', 'run-code', 'sb-1', 'import math; math.sqrt(144)']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'computing\n12.0\n');
    assert.equal(r.stderr, 'note\n');
    const req = fake.seen.find((s) => s.url === '/v1/run_code/stream');
    assert.deepEqual(req?.body, {
      sandbox: 'sb-1',
      code: 'import math; math.sqrt(144)',
      language: 'python',
      timeout: 60,
    });
  });

  test('reads the code from stdin; a raised error exits 1 with the traceback', async () => {
    onRunCode([
      {
        kind: 'error',
        error: {
          name: 'ZeroDivisionError',
          value: 'division by zero',
          traceback: ['\x1b[31mTraceback\x1b[0m', 'ZeroDivisionError: division by zero'],
        },
      },
      { kind: 'exit', exit_code: 1 },
    ]);
    const r = await cli(['sandbox', 'run-code', 'sb-1'], { input: '1/0\n' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'Traceback\nZeroDivisionError: division by zero\n');
    assert.equal(fake.seen.find((s) => s.url === '/v1/run_code/stream')?.body.code, '1/0\n');
  });

  test('--save-images writes image results to files', async () => {
    onRunCode([
      { kind: 'result', result: { data: { 'image/png': b64(PNG_BYTES), 'text/plain': '<Figure>' } } },
      { kind: 'result', result: { data: { 'image/svg+xml': '<svg/>' } } },
      { kind: 'exit', exit_code: 0 },
    ]);
    const dir = join(root, 'images');
    const r = await cli(['sandbox', 'run-code', 'sb-1', 'plot()', '--save-images', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'result-0.png'))), PNG_BYTES);
    assert.equal(readFileSync(join(dir, 'result-1.svg'), 'utf8'), '<svg/>');
    assert.match(r.stderr, /saved .*result-0\.png/);
  });

  test('--json prints the whole execution', async () => {
    onRunCode([
      { kind: 'stdout', stdout: b64('x') },
      { kind: 'exit', exit_code: 0 },
    ]);
    const r = await cli(['--json', 'sandbox', 'run-code', 'sb-1', 'print("x", end="")']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(doc.logs, { stdout: ['x'], stderr: [] });
    assert.equal(doc.exitCode, 0);
  });
});
