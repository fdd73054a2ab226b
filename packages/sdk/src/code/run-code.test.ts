import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AgentRunError } from '../errors.js';
import { sandboxOn } from '../test-support/sandbox-handle.js';
import { useStub } from '../test-support/stub-server.js';
import { Result } from './execution.js';
import { parseCodeLine } from './frames.js';

const stub = useStub();

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const PNG = b64(new Uint8Array([0x89, 0x50, 0x4e, 0x47]));

describe('runCode', () => {
  test('assembles logs, rich results and the main text; callbacks fire as frames arrive', async () => {
    const euro = Buffer.from('€\n');
    stub.route = () => ({
      ndjson: [
        { kind: 'stdout', stdout: b64('hello\n') },
        // A character split across two chunks.
        { kind: 'stdout', stdout: b64(euro.subarray(0, 1)) },
        { kind: 'stdout', stdout: b64(euro.subarray(1)) },
        { kind: 'stderr', stderr: b64('careful\n') },
        { kind: 'result', result: { data: { 'text/html': '<b>x</b>', 'image/png': PNG } } },
        { kind: 'telemetry', anything: true },
        { kind: 'result', result: { text: '12.0', data: { 'text/plain': '12.0' } } },
        { kind: 'exit', exit_code: 0 },
        'garbage after the exit frame is never read',
      ],
    });
    const seen: string[] = [];
    const ex = await sandboxOn(stub.baseUrl).runCode('import math; math.sqrt(144)', {
      timeoutSeconds: 5,
      onStdout: (t) => seen.push(`out:${t}`),
      onStderr: (t) => seen.push(`err:${t}`),
      onResult: (r) => seen.push(`result:${r.formats().join(',')}`),
    });
    assert.deepEqual(stub.requests[0]?.body, {
      sandbox: 'sb-1',
      code: 'import math; math.sqrt(144)',
      language: 'python',
      timeout: 5,
    });
    assert.equal(stub.requests[0]?.url, '/v1/run_code/stream');
    assert.equal(ex.text, '12.0');
    assert.deepEqual(ex.logs, { stdout: ['hello\n', '€\n'], stderr: ['careful\n'] });
    assert.deepEqual(seen, [
      'out:hello\n',
      'out:€\n',
      'err:careful\n',
      'result:text/html,image/png',
      'result:text/plain',
    ]);
    assert.equal(ex.results.length, 2);
    const [chart, main] = ex.results;
    assert.equal(chart?.isMainResult, false);
    assert.equal(chart?.html, '<b>x</b>');
    assert.equal(chart?.png, PNG);
    assert.equal(chart?.text, undefined);
    assert.equal(main?.isMainResult, true);
    assert.equal(ex.error, undefined);
    assert.equal(ex.exitCode, 0);
  });

  test('an error frame is the execution error, not a thrown one', async () => {
    stub.route = () => ({
      ndjson: [
        { kind: 'error', error: { name: 'ValueError', value: 'bad', traceback: ['Traceback...', 'ValueError: bad'] } },
        { kind: 'exit', exit_code: 1 },
      ],
    });
    const errors: string[] = [];
    const ex = await sandboxOn(stub.baseUrl).runCode('raise ValueError("bad")', {
      onError: (e) => errors.push(e.name),
    });
    assert.deepEqual(ex.error, { name: 'ValueError', value: 'bad', traceback: ['Traceback...', 'ValueError: bad'] });
    assert.deepEqual(errors, ['ValueError']);
    assert.equal(ex.exitCode, 1);
    assert.equal(ex.text, undefined);
  });

  test('a stream without its exit frame is run_code_stream_truncated', async () => {
    stub.route = () => ({ ndjson: [{ kind: 'stdout', stdout: b64('partial') }] });
    await assert.rejects(
      sandboxOn(stub.baseUrl).runCode('x'),
      (err) => err instanceof AgentRunError && err.code === 'run_code_stream_truncated',
    );
  });

  test('a timeout above 86400 s is refused without a request', async () => {
    await assert.rejects(sandboxOn(stub.baseUrl).runCode('x', { timeoutSeconds: 86_401 }), {
      code: 'timeout_too_large',
    });
    assert.equal(stub.requests.length, 0);
  });
});

describe('parseCodeLine and Result', () => {
  test('plain-text output that is not base64 is taken as text, as the seed SDK does', () => {
    assert.deepEqual(parseCodeLine({ kind: 'stdout', stdout: 'not base64!' }), {
      kind: 'stdout',
      data: new Uint8Array(Buffer.from('not base64!')),
    });
  });

  test('unknown kinds are skipped; missing fields default', () => {
    assert.equal(parseCodeLine({ kind: 'progress' }), undefined);
    assert.deepEqual(parseCodeLine({ kind: 'exit' }), { kind: 'exit', exitCode: 0 });
    assert.deepEqual(parseCodeLine({ kind: 'error' }), {
      kind: 'error',
      error: { name: '', value: '', traceback: [] },
    });
    const r = parseCodeLine({ kind: 'result' });
    assert.ok(r?.kind === 'result');
    assert.deepEqual(r.result.toJSON(), { data: {}, isMainResult: false });
  });

  test('MIME getters and json parsing', () => {
    const r = new Result({
      data: {
        'image/jpeg': 'j',
        'image/svg+xml': '<svg/>',
        'text/markdown': '# t',
        'text/latex': '$x$',
        'application/json': '{"a":1}',
      },
      isMainResult: false,
    });
    assert.equal(r.jpeg, 'j');
    assert.equal(r.svg, '<svg/>');
    assert.equal(r.markdown, '# t');
    assert.equal(r.latex, '$x$');
    assert.deepEqual(r.json, { a: 1 });
    assert.equal(r.png, undefined);
  });
});
