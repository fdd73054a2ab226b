import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fakeResults } from '../test-support/fake-results.js';
import { renderMarkdown } from './markdown.js';
import { HAND_WRITTEN_MARKER, handWrittenTail, writeReport } from './write.js';

describe('writing the report', () => {
  const root = mkdtempSync(join(tmpdir(), 'mitos-test-bench-report-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const md = () => readFileSync(join(root, 'BENCHMARKS.md'), 'utf8');

  test('a first run writes the generated report alone', () => {
    writeReport(root, fakeResults());
    assert.equal(md(), renderMarkdown(fakeResults()));
    assert.equal(JSON.parse(readFileSync(join(root, 'BENCHMARKS.json'), 'utf8')).engine, fakeResults().engine);
  });

  test('a run regenerates the figures above the marker and keeps the hand-written sections byte for byte', () => {
    const tail = `${HAND_WRITTEN_MARKER}\n\n## An A/B from a separate run\n\n| before | after |\n|---|---|\n| 4 ms | 1 ms |\n`;
    writeFileSync(join(root, 'BENCHMARKS.md'), `# Benchmarks\n\nstale figures from an older run\n\n${tail}`);
    writeReport(root, fakeResults());
    const now = md();
    assert.doesNotMatch(now, /stale figures/);
    assert.ok(now.startsWith(renderMarkdown(fakeResults())));
    assert.ok(now.endsWith(tail));
    // A second run keeps exactly one copy of the tail.
    writeReport(root, fakeResults());
    assert.equal(md(), now);
  });

  test('a file without the marker has nothing to keep', () => {
    assert.equal(handWrittenTail('# Benchmarks\n\nno marker here\n'), '');
    assert.equal(handWrittenTail(undefined), '');
  });
});
