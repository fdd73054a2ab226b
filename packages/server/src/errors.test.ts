import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MitosError } from '@mitos/protocol';
import { rawErrno } from '@mitos/testkit';
import { describeZodIssues, engineFailure } from './errors.js';

describe('describeZodIssues', () => {
  it('says "is required" for missing fields and prefixes others with the field', () => {
    assert.equal(
      describeZodIssues([
        { code: 'invalid_type', path: ['sandbox'], message: 'Invalid input: expected string, received undefined' },
        { code: 'too_small', path: ['limits', 'pids'], message: 'Too small' },
      ]),
      'sandbox is required; limits.pids: Too small',
    );
  });
});

describe('engineFailure', () => {
  const context = { sandbox: 'sb-1', path: '/p' };

  it('passes a MitosError through, filling only missing context keys', () => {
    const own = new MitosError('not_found', 'gone', { path: '/real' });
    const out = engineFailure(own, 'file_failed', context);
    assert.equal(out.code, 'not_found');
    assert.equal(out.detail, 'gone');
    assert.deepEqual(out.context, { sandbox: 'sb-1', path: '/real' });
    const complete = new MitosError('file_failed', 'x', context);
    assert.equal(engineFailure(complete, 'file_failed', context), complete);
  });

  it('maps raw ENOENT to not_found and other errno to the fallback, without host paths', () => {
    const enoent = engineFailure(rawErrno('ENOENT', -2, '/host/root/p'), 'file_failed', context);
    assert.equal(enoent.code, 'not_found');
    const eacces = engineFailure(rawErrno('EACCES', -13, '/host/root/p'), 'file_failed', context);
    assert.equal(eacces.code, 'file_failed');
    assert.match(eacces.detail, /^EACCES: /);
    assert.doesNotMatch(eacces.detail, /host/);
    assert.equal(engineFailure(new Error('/host/x'), 'exec_failed', {}).detail.includes('/host'), false);
  });
});
