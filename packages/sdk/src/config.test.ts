import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_BASE_URL, resolveConfig } from './config.js';
import { credentialsPath, readCredentials, writeCredentials } from './credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'mitos-sdk-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function withFile(content: string): Record<string, string> {
  const sub = mkdtempSync(join(dir, 'c-'));
  writeFileSync(join(sub, 'credentials.json'), content);
  return { MITOS_CONFIG_DIR: sub };
}

describe('resolveConfig', () => {
  const file = withFile(JSON.stringify({ token: 'file-key', base_url: 'http://file:1/' }));

  test('api key: argument beats env beats file', () => {
    const env = { ...file, MITOS_API_KEY: 'env-key' };
    assert.equal(resolveConfig({ apiKey: 'arg-key' }, env).apiKey, 'arg-key');
    assert.equal(resolveConfig({ apiKey: 'arg-key' }, env).apiKeySource, 'argument');
    assert.deepEqual(pick(resolveConfig({}, env)), ['env-key', 'env']);
    assert.deepEqual(pick(resolveConfig({}, file)), ['file-key', 'credentials']);
  });

  test('empty argument and empty env count as not set', () => {
    assert.deepEqual(pick(resolveConfig({ apiKey: '' }, { ...file, MITOS_API_KEY: '' })), ['file-key', 'credentials']);
  });

  test('no key anywhere is tokenless', () => {
    const empty = { MITOS_CONFIG_DIR: mkdtempSync(join(dir, 'none-')) };
    assert.deepEqual(pick(resolveConfig({}, empty)), [undefined, 'none']);
  });

  test('a broken credentials file silently yields no token', () => {
    for (const bad of ['{not json', '[1,2]', '"x"', JSON.stringify({ token: 42 }), JSON.stringify({ token: '' })]) {
      assert.deepEqual(pick(resolveConfig({}, withFile(bad))), [undefined, 'none'], bad);
    }
  });

  test('base url: argument beats env beats file beats the local default; trailing slashes go', () => {
    const env = { ...file, MITOS_BASE_URL: 'http://env:2//' };
    assert.equal(resolveConfig({ baseUrl: 'http://arg:3/' }, env).baseUrl, 'http://arg:3');
    assert.equal(resolveConfig({}, env).baseUrl, 'http://env:2');
    assert.equal(resolveConfig({}, file).baseUrl, 'http://file:1');
    const none = { MITOS_CONFIG_DIR: mkdtempSync(join(dir, 'nb-')), MITOS_BASE_URL: '' };
    assert.equal(resolveConfig({ baseUrl: '' }, none).baseUrl, DEFAULT_BASE_URL);
    assert.equal(resolveConfig({}, none).baseUrlSource, 'default');
    assert.equal(DEFAULT_BASE_URL, 'http://127.0.0.1:8080');
  });

  test('the file lives in MITOS_CONFIG_DIR, else ~/.config/mitos', () => {
    assert.equal(credentialsPath({ MITOS_CONFIG_DIR: '/x' }), join('/x', 'credentials.json'));
    assert.equal(
      credentialsPath({ MITOS_CONFIG_DIR: '', HOME: '/home/u' })?.endsWith(
        join('.config', 'mitos', 'credentials.json'),
      ),
      true,
    );
  });
});

describe('credentials file', () => {
  test('writeCredentials creates the file with mode 0600 and readCredentials reads it back', () => {
    const env = { MITOS_CONFIG_DIR: join(dir, 'fresh', 'nested') };
    const path = writeCredentials({ token: 'sk-secret' }, env);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'fresh', 'nested')).mode & 0o777, 0o700);
    assert.deepEqual(readCredentials(env), { token: 'sk-secret' });
    assert.match(readFileSync(path, 'utf8'), /"token": "sk-secret"/);
  });

  test('rewriting a looser pre-existing file leaves it at 0600', () => {
    const env = withFile('{}');
    const path = credentialsPath(env) as string;
    writeFileSync(path, '{}', { mode: 0o644 });
    writeCredentials({ token: 't2' }, env);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
});

function pick(c: ReturnType<typeof resolveConfig>): [string | undefined, string] {
  return [c.apiKey, c.apiKeySource];
}
