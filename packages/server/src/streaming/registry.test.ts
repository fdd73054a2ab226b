import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { thrownCode } from '@mitos/testkit';
import { StreamRegistry } from './registry.js';

describe('StreamRegistry', () => {
  it('caps open streams per sandbox, not across sandboxes', () => {
    const streams = new StreamRegistry(2);
    streams.acquire('a');
    streams.acquire('a');
    assert.equal(
      thrownCode(() => streams.acquire('a')),
      'too_many_streams',
    );
    assert.doesNotThrow(() => streams.acquire('b'));
  });

  it('frees a slot on release, and releasing twice frees it once', () => {
    const streams = new StreamRegistry(1);
    const lease = streams.acquire('a');
    lease.release();
    lease.release();
    const second = streams.acquire('a');
    assert.equal(streams.count('a'), 1);
    assert.equal(
      thrownCode(() => streams.acquire('a')),
      'too_many_streams',
    );
    second.release();
    assert.equal(streams.count('a'), 0);
  });

  it('is unlimited at 0', () => {
    const streams = new StreamRegistry(0);
    for (let i = 0; i < 100; i++) streams.acquire('a');
    assert.equal(streams.count('a'), 100);
  });

  it('aborts the open streams of a sandbox that is gone, with a not_found reason', () => {
    const streams = new StreamRegistry(4);
    const a = streams.acquire('a');
    const b = streams.acquire('b');
    streams.abortSandbox('a');
    assert.equal(a.signal.aborted, true);
    assert.equal((a.signal.reason as { code: string }).code, 'not_found');
    assert.equal(b.signal.aborted, false);
    streams.abortAll();
    assert.equal((b.signal.reason as { code: string }).code, 'canceled');
  });
});
