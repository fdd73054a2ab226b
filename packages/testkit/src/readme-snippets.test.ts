import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readmeSnippets, runCollecting } from './readme-snippets.js';

const MARKDOWN = [
  '# Title',
  '## First',
  '```ts',
  'one();',
  '```',
  '### Deeper',
  '- a list item:',
  '  ```bash',
  '  echo two',
  '  ```',
  '## Second',
  '```',
  'three',
  '```',
  '',
].join('\n');

test('readmeSnippets: every fence, indentation removed, with its heading and its chapter', () => {
  assert.deepEqual(readmeSnippets(MARKDOWN), [
    { lang: 'ts', code: 'one();\n', section: 'First', chapter: 'First' },
    { lang: 'bash', code: 'echo two\n', section: 'Deeper', chapter: 'First' },
    { lang: '', code: 'three\n', section: 'Second', chapter: 'Second' },
  ]);
});

test('runCollecting: exit code, both streams, and only the environment given', async () => {
  const r = await runCollecting('/bin/sh', ['-c', 'echo "$ONLY-$HOME"; echo err >&2; exit 3'], {
    cwd: '/',
    env: { ONLY: 'x' },
  });
  assert.deepEqual(r, { code: 3, stdout: 'x-\n', stderr: 'err\n' });
});
