import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { MAX_ENV_BYTES, MAX_ENV_ENTRIES, sandboxEnv, withSandboxEnv } from './sandbox-env.js';

const refused = (env: Record<string, string>, message: RegExp) =>
  assert.throws(
    () => sandboxEnv(env),
    (err: unknown) => err instanceof MitosError && err.code === 'invalid_request' && message.test(err.detail),
  );

test('a sandbox env is kept as given; none or an empty one is none', () => {
  assert.deepEqual(sandboxEnv({ A: '1', _B2: '', lower: 'x=y' }), { A: '1', _B2: '', lower: 'x=y' });
  assert.equal(sandboxEnv(undefined), undefined);
  assert.equal(sandboxEnv({}), undefined);
});

test('bad names, NUL bytes and oversize envs are refused, naming the name and never the value', () => {
  for (const name of ['1A', 'A-B', 'A B', '', 'A=B', 'É']) refused({ [name]: 'secret-value' }, /invalid env name/);
  refused({ OK: 'a\0secret-value' }, /OK contains a NUL byte/);
  const many = Object.fromEntries(Array.from({ length: MAX_ENV_ENTRIES + 1 }, (_, i) => [`V${i}`, '']));
  refused(many, /at most 256/);
  refused({ BIG: 'x'.repeat(MAX_ENV_BYTES) }, /bytes; at most/);
  try {
    sandboxEnv({ 'BAD NAME': 'secret-value' });
  } catch (err) {
    assert.ok(err instanceof MitosError);
    assert.ok(!JSON.stringify({ ...err, message: err.message, detail: err.detail }).includes('secret-value'));
  }
});

test('a call’s env wins over the sandbox’s', () => {
  const sandbox = { env: { A: 'sandbox', B: 'sandbox' } };
  assert.deepEqual(withSandboxEnv(sandbox, { command: 'x', env: { A: 'call' } }).env, { A: 'call', B: 'sandbox' });
  const options: { command: string; env?: Record<string, string> } = { command: 'x' };
  assert.equal(withSandboxEnv({}, options), options);
});
