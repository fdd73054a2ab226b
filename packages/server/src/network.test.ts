import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertEnforceable, resolveNetwork } from './network.js';

describe('resolveNetwork', () => {
  it('defaults to deny both ways, and empty modes mean deny', () => {
    assert.deepEqual(resolveNetwork(undefined), { egress: 'deny', inbound: 'deny' });
    assert.deepEqual(resolveNetwork({}), { egress: 'deny', inbound: 'deny' });
    assert.deepEqual(resolveNetwork({ egress: '', inbound: 'allow' }), { egress: 'deny', inbound: 'allow' });
  });

  it('keeps only non-empty lists and block when true', () => {
    assert.deepEqual(
      resolveNetwork({ block: true, allow_cidrs: ['10.0.0.0/8', 'fd00::/8'], allow_domains: [], inbound_cidrs: [] }),
      { egress: 'deny', inbound: 'deny', block: true, allow_cidrs: ['10.0.0.0/8', 'fd00::/8'] },
    );
  });

  it('rejects bad modes and CIDRs with an "invalid network config" cause', () => {
    for (const raw of [
      { egress: 'yes' },
      { allow_cidrs: ['1.2.3.4/'] },
      { allow_cidrs: ['1.2.3/8'] },
      { inbound_cidrs: ['::/-1'] },
      5,
    ]) {
      assert.throws(
        () => resolveNetwork(raw),
        (err: { code: string; detail: string }) => {
          assert.equal(err.code, 'invalid_json');
          assert.match(err.detail, /^invalid network config: /);
          return true;
        },
      );
    }
  });

  it('refuses allowlists as not implemented', () => {
    assert.doesNotThrow(() => assertEnforceable(resolveNetwork({ egress: 'allow', block: true })));
    assert.throws(() => assertEnforceable(resolveNetwork({ allow_domains: ['pypi.org:443'] })), {
      code: 'not_implemented',
    });
  });
});
