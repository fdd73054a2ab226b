import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BuildContext, BuildStep } from '@mitos/protocol';
import { contextPath, copiedFiles, copyTarget } from './context-paths.js';
import { chainKeys } from './keys.js';

const steps: BuildStep[] = [
  { type: 'workdir', workdir: '/app' },
  { type: 'copy', source: 'app/', dest: '/app' },
  { type: 'env', envName: 'PORT', envValue: '8080' },
  { type: 'run', run: 'pip install -r requirements.txt' },
];
const sha = (c: string) => c.repeat(64);
const context = (appPy: string): BuildContext => ({
  files: {
    'app/main.py': { sha256: sha(appPy) },
    'app/requirements.txt': { sha256: sha('b') },
    'other.txt': { sha256: sha('c') },
  },
});

describe('template build cache keys', () => {
  test('a changed step changes its key and every later one, never an earlier one', () => {
    const a = chainKeys('base', steps, context('a'));
    const changed = [...steps];
    changed[2] = { type: 'env', envName: 'PORT', envValue: '9090' };
    const b = chainKeys('base', changed, context('a'));
    assert.deepEqual(b.slice(0, 2), a.slice(0, 2));
    assert.ok(b.slice(2).every((k, i) => k !== a[i + 2]));
    assert.ok(a.every((k) => /^[0-9a-f]{64}$/.test(k)));
  });

  test('the content of a copied file is in the key; a file the copy does not take is not', () => {
    const a = chainKeys('base', steps, context('a'));
    const b = chainKeys('base', steps, context('d'));
    assert.equal(b[0], a[0]);
    assert.notEqual(b[1], a[1]);
    const other = { files: { ...context('a').files, 'other.txt': { sha256: sha('e') } } };
    assert.deepEqual(chainKeys('base', steps, other), a);
  });

  test('the base digest and build arguments are in every key', () => {
    const a = chainKeys('base', steps, context('a'));
    assert.notEqual(chainKeys('other-base', steps, context('a'))[0], a[0]);
    assert.notEqual(chainKeys('base', steps, context('a'), { V: '1' })[0], a[0]);
  });

  test('context paths cannot leave the context', () => {
    for (const bad of ['../etc/passwd', '/etc/passwd', 'a/../../b', 'a\0b']) {
      assert.throws(() => contextPath(bad), { code: 'invalid_request' });
    }
    assert.equal(contextPath('./app/'), 'app');
  });

  test('a directory copy lands below dest; a file copy to dest/ keeps its name', () => {
    const files = copiedFiles(context('a'), 'app');
    assert.deepEqual(
      files.map((f) => f.rel),
      ['main.py', 'requirements.txt'],
    );
    assert.equal(copyTarget('/srv', '/', files[0] as never, true), '/srv/main.py');
    const one = copiedFiles(context('a'), 'other.txt');
    assert.equal(copyTarget('conf/', '/app', one[0] as never, false), '/app/conf/other.txt');
    assert.equal(copyTarget('conf.txt', '/app', one[0] as never, false), '/app/conf.txt');
  });
});
