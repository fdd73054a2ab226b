import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prebuildPrinter, progressPrinter } from './template-build.js';

describe('template build progress at a terminal', () => {
  it('serve --prebuild prints one [id] line per builder step and the time once ready', () => {
    const lines: string[] = [];
    const print = prebuildPrinter((l) => lines.push(l));
    print('python', { line: 'importing cached image 3f2a' });
    print('python', { readyMs: 1234 });
    assert.deepEqual(lines, ['[python] importing cached image 3f2a', '[python] ready in 1.2s']);
  });

  it('a build prints FROM, one line per step with CACHED or its time, FAILED for the failing one', () => {
    const lines: string[] = [];
    const print = progressPrinter('web', false, (l) => lines.push(l));
    print({ type: 'base', image: 'python', cached: true, digest: 'a'.repeat(64) });
    print({ type: 'step', step: 1, total: 2, kind: 'run', label: 'echo hi', cached: true, key: 'k1' });
    print({ type: 'step_done', step: 1, cached: true, duration_ms: 3 });
    print({ type: 'step', step: 2, total: 2, kind: 'run', label: 'exit 3', cached: false, key: 'k2' });
    print({ type: 'log', step: 2, stream: 'stdout', line: 'folded unless --verbose' });
    print({
      type: 'error',
      error: { code: 'build_failed', message: 'a template build step failed', remediation: 'fix step 2' },
    });
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^\[web\] FROM python \(cached\) a{19}$/);
    assert.match(lines[1] ?? '', /^\[web 1\/2\] RUN echo hi\s+CACHED$/);
    assert.match(lines[2] ?? '', /^\[web 2\/2\] RUN exit 3\s+FAILED$/);
  });
});
